"""Linear layers applied at every step of the RSSM's time loop, with their weight gradient
formed once for the whole sequence.

Autograd differentiates a layer used at T steps T times: T weight-gradient products g_t^T x_t
(16 rows each in DreamerV3: a matrix product with an inner dimension of 16, far below the CPU's
peak) and T - 1 additions of a weight-sized tensor. The sum is one product of the stacked rows,
G^T X. Inside :func:`sequence_weight_grads`, each step's :class:`RecurrentLinear` computes only
its output (and, backwards, its input's gradient) and records x_t and g_t; the weight gradient is
formed after the last step's backward. Same maths, summed in another order: gradients agree to
float rounding. In DreamerV3's update this was ~0.3 s of the RSSM loop's ~1 s on one thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.autograd import Function

from wmbench_core.learning.linear import Linear, linear, mm


class RecurrentLinear(Linear):
    """An ``nn.Linear`` (same parameters and state-dict keys) that defers its weight gradient
    while a :func:`sequence_weight_grads` context is open; the core's :class:`Linear` otherwise."""

    _sequence: _Sequence | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = self._sequence
        if seq is None:
            return super().forward(x)
        return _Step.apply(x, seq.weight, seq.bias, seq)


@contextlib.contextmanager
def sequence_weight_grads(module: nn.Module) -> Iterator[None]:
    """Within this context every :class:`RecurrentLinear` in ``module`` records its steps and
    receives one weight gradient for all of them. No effect without autograd, under autocast, or
    for frozen layers."""
    layers = [m for m in module.modules() if isinstance(m, RecurrentLinear)]
    active = [
        m for m in layers
        if torch.is_grad_enabled() and m.weight.requires_grad
        and not torch.is_autocast_enabled(m.weight.device.type)
    ]  # fmt: skip
    for layer in active:
        weight, bias = _SequenceParameters.apply(layer.weight, layer.bias, (seq := _Sequence()))
        seq.weight, seq.bias = weight, bias
        layer._sequence = seq
    try:
        yield
    finally:
        for layer in active:
            layer._sequence = None


class _Sequence:
    """The steps of one layer in one forward pass: inputs x_t and, after backward, grads g_t."""

    def __init__(self) -> None:
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None
        self.inputs: list[torch.Tensor] = []
        self.grads: dict[int, torch.Tensor] = {}  # step -> gradient of its output


class _SequenceParameters(Function):
    """Identity on (weight, bias). Every step uses its outputs, so autograd runs its backward
    after all the steps' backwards: that is where the weight gradient G^T X is formed."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, bias: torch.Tensor | None, seq: _Sequence) -> Any:
        ctx.seq = seq
        ctx.has_bias = bias is not None
        ctx.set_materialize_grads(False)
        return weight.view_as(weight), None if bias is None else bias.view_as(bias)

    @staticmethod
    def backward(ctx: Any, _weight_grad: Any, _bias_grad: Any) -> Any:
        seq: _Sequence = ctx.seq
        steps = sorted(seq.grads)
        if not steps:
            return None, None, None
        grads = torch.cat([seq.grads[t] for t in steps])
        inputs = torch.cat([seq.inputs[t] for t in steps])
        weight_grad = mm(grads.t(), inputs)
        bias_grad = grads.sum(0) if ctx.has_bias else None
        return weight_grad, bias_grad, None


class _Step(Function):
    """One step's ``F.linear``; backward returns the input's gradient only and records g_t."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, seq: _Sequence
    ) -> torch.Tensor:
        ctx.seq, ctx.step = seq, len(seq.inputs)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(weight)
        seq.inputs.append(x.detach().reshape(-1, x.shape[-1]))
        return linear(x, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor | None) -> Any:
        if grad is None:
            return None, None, None, None
        (weight,) = ctx.saved_tensors
        g2 = ctx.seq.grads[ctx.step] = grad.reshape(-1, grad.shape[-1])
        grad_x = mm(g2, weight).reshape(*grad.shape[:-1], weight.shape[1]) if ctx.needs_input_grad[0] else None
        return grad_x, None, None, None
