"""symlog / symexp and two-hot encoding of scalars (DreamerV3, Hafner et al. 2023, §2 and App. B)."""

from __future__ import annotations

import torch


def symlog(x: torch.Tensor) -> torch.Tensor:
    """sign(x) · ln(|x| + 1)"""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def symexp(x: torch.Tensor) -> torch.Tensor:
    """sign(x) · (exp(|x|) - 1), the inverse of symlog."""
    return torch.sign(x) * torch.expm1(torch.abs(x))


class TwoHot:
    """Scalars as a distribution over fixed bins: a value between bins b_k <= y < b_{k+1} puts
    weight (b_{k+1} - y)/(b_{k+1} - b_k) on b_k and the rest on b_{k+1}.

    DreamerV3 uses 255 bins equally spaced in symlog space over [-20, 20]; with
    ``transform="symlog"`` encode() applies symlog and decode() returns symexp of the expected
    bin value, so callers work in the original scale.
    """

    def __init__(
        self,
        num_bins: int = 255,
        low: float = -20.0,
        high: float = 20.0,
        transform: str | None = "symlog",
        device: torch.device | str = "cpu",
    ) -> None:
        self.bins = torch.linspace(low, high, num_bins, device=device)
        self.transform = transform

    def to(self, device: torch.device | str) -> TwoHot:
        self.bins = self.bins.to(device)
        return self

    def encode(self, y: torch.Tensor) -> torch.Tensor:
        """(...,) values -> (..., num_bins) two-hot targets."""
        if self.transform == "symlog":
            y = symlog(y)
        bins = self.bins
        y = y.clamp(bins[0], bins[-1])
        above = torch.bucketize(y, bins, right=True).clamp(1, len(bins) - 1)
        below = above - 1
        lo, hi = bins[below], bins[above]
        w_hi = (y - lo) / (hi - lo)
        out = torch.zeros(*y.shape, len(bins), device=y.device, dtype=y.dtype)
        out.scatter_(-1, below.unsqueeze(-1), (1.0 - w_hi).unsqueeze(-1))
        out.scatter_add_(-1, above.unsqueeze(-1), w_hi.unsqueeze(-1))
        return out

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """(..., num_bins) logits -> (...,) expected value (in the original scale)."""
        probs = torch.softmax(logits, dim=-1)
        value = (probs * self.bins).sum(-1)
        return symexp(value) if self.transform == "symlog" else value

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy between the logits and the two-hot target of ``y`` (per element)."""
        target = self.encode(y.detach())
        return -(target * torch.log_softmax(logits, dim=-1)).sum(-1)
