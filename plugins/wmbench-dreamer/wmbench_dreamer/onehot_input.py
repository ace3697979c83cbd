"""Layer inputs whose leading columns are one-hot groups, kept as the indices of their ones.

The first layer of every head reads the features [z, h], and z (32 categoricals of 32 classes
in V2/V3) is one-hot: W [z, h] = (the sum of 32 columns of W) + W_h h. Gathering 32 columns
is 1/32 of the dense product's arithmetic. Imagination makes 16 x 1024 such states per DreamerV3
update and five heads read them (actor, critic, slow critic, reward, continue), plus the
prior's input layer [z, a] at every imagined step: done densely, that was ~15% of an update.

Used only where no gradient flows into z (imagined states with REINFORCE, V2/V3); weights still
get their gradients. The gradient of a gathered column is the sum of the output gradients of the
rows that picked it: itself a gather (rows sorted by column, one bag per column), which on 2 CPU
cores took ~0.07 s against ~0.14 s for ``embedding_bag``'s own scatter backward (16384 rows, one
critic pass; the actor makes 15 smaller ones per update). Same maths as the dense product, summed
in another order: results agree to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Function

from wmbench_core.learning.linear import linear


@dataclass(frozen=True)
class OneHotInput:
    """Rows of a layer input ``[one-hot part (width columns), dense part]``.

    ``columns[..., g]`` is the column of group g's 1 within the one-hot part (already offset by
    the group's start); ``dense`` holds the remaining columns, or is None when there are none.
    Indexing, ``detach`` and :meth:`stack` act on the leading (batch) dims like a tensor's.
    """

    columns: torch.Tensor  # (..., G) long
    dense: torch.Tensor | None  # (..., D)
    width: int

    @classmethod
    def from_groups(
        cls, index: torch.Tensor, classes: int, dense: torch.Tensor | None = None
    ) -> OneHotInput:
        """``index[..., g]`` in [0, classes): the class of categorical g (groups of ``classes``
        columns, one after the other)."""
        groups = index.shape[-1]
        offsets = torch.arange(groups, device=index.device) * classes
        return cls(index + offsets, dense, groups * classes)

    @property
    def dtype(self) -> torch.dtype:
        return self.dense.dtype if self.dense is not None else torch.get_default_dtype()

    def __getitem__(self, key: object) -> OneHotInput:
        dense = None if self.dense is None else self.dense[key]
        return OneHotInput(self.columns[key], dense, self.width)

    def detach(self) -> OneHotInput:
        return OneHotInput(self.columns, None if self.dense is None else self.dense.detach(), self.width)

    @staticmethod
    def stack(items: list[OneHotInput]) -> OneHotInput:
        dense = None if items[0].dense is None else torch.stack([x.dense for x in items])
        return OneHotInput(torch.stack([x.columns for x in items]), dense, items[0].width)

    def to_dense(self) -> torch.Tensor:
        """The input as an ordinary tensor (for layers that are not Linear)."""
        onehot = torch.zeros(*self.columns.shape[:-1], self.width, dtype=self.dtype, device=self.columns.device)
        onehot.scatter_(-1, self.columns, 1.0)
        return onehot if self.dense is None else torch.cat([onehot, self.dense], -1)

    def linear(self, layer: nn.Linear) -> torch.Tensor:
        """``layer(self.to_dense())`` without building the one-hot part."""
        lead = self.columns.shape[:-1]
        out = _GatherColumns.apply(self.columns.reshape(-1, self.columns.shape[-1]), layer.weight, self.width)
        if self.dense is not None:
            dense = self.dense.reshape(-1, self.dense.shape[-1])
            out = out + linear(dense, layer.weight[:, self.width :])
        if layer.bias is not None:
            out = out + layer.bias
        return out.reshape(*lead, -1)


class _GatherColumns(Function):
    """``out[n] = sum_g weight[:, columns[n, g]]`` for the first ``width`` columns of ``weight``;
    the gradient goes to those columns only (the dense part is the caller's ``addmm``)."""

    @staticmethod
    def forward(ctx: Any, columns: torch.Tensor, weight: torch.Tensor, width: int) -> torch.Tensor:
        ctx.save_for_backward(columns)
        ctx.weight_shape = weight.shape
        # rows of the embedding table must be contiguous: gathering strided rows is ~10x slower
        table = weight[:, :width].t().contiguous()
        return F.embedding_bag(columns, table, mode="sum")

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (columns,) = ctx.saved_tensors
        in_features = ctx.weight_shape[1]
        flat = columns.reshape(-1)
        rows_by_column = torch.argsort(flat) // columns.shape[-1]  # the row of each pick, by column
        counts = torch.bincount(flat, minlength=in_features)
        offsets = torch.cumsum(counts, 0) - counts  # where each column's bag starts
        # (in_features, out): columns never picked (and the dense part's) get empty bags, i.e. 0
        column_grads = F.embedding_bag(rows_by_column, grad.contiguous(), offsets, mode="sum")
        return None, column_grads.t(), None
