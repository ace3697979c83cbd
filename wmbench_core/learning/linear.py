"""Linear layers whose large fp32 CPU matrix products run on oneDNN instead of MKL.

On CPU, PyTorch computes fp32 ``F.linear``/``mm`` with MKL's sgemm, and convolutions with
oneDNN; both libraries ship inside every x86 PyTorch wheel. MKL does not use AVX-512 on AMD
CPUs: on a 2-core AMD EPYC with AVX-512 (2026-12-08, torch 2.13.0, 2 threads) sgemm ran at
~210 GFLOP/s and oneDNN's matmul at ~420-490 GFLOP/s on DreamerV3's shapes (forward ``x W^T``,
input gradient ``g W`` and weight gradient ``g^T x`` alike, the transposed operands read in
place). On the AVX2 AMD EPYC of earlier sessions the two were within noise of each other.

Below ~4 M multiply-adds per product (e.g. 256 x 128 x 128) oneDNN's per-call overhead makes it
no faster, so small products (toy presets, acting on one observation) stay on PyTorch's own
kernel. Same maths, summed in another order: results agree to float rounding.

* :func:`mm` — ``a @ b`` of 2-D tensors, no autograd (for custom backward functions);
* :func:`linear` — ``F.linear`` with its gradients (input, weight, bias) on the same products;
* :class:`Linear` — an ``nn.Linear`` (same parameters and state-dict keys) that calls it.

``WMBENCH_ONEDNN_LINEAR=0`` in the environment (or :func:`set_enabled`) turns it off.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Function

#: products below this many multiply-adds stay on PyTorch's kernel (crossover measured above)
MIN_MACS = 1 << 22

_enabled = os.environ.get("WMBENCH_ONEDNN_LINEAR", "1") != "0"


def _available() -> bool:
    # x86-64 only: measured there; on ARM torch's oneDNN path is another library (ACL)
    return (
        platform.machine().lower() in ("x86_64", "amd64")
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )


_AVAILABLE = _available()


def set_enabled(enabled: bool) -> None:
    """Route large fp32 CPU products through oneDNN (True, the default) or never (False)."""
    global _enabled
    _enabled = bool(enabled)


def enabled() -> bool:
    """Whether large fp32 CPU products go to oneDNN in this process."""
    return _enabled and _AVAILABLE


def _onednn(a: torch.Tensor, b: torch.Tensor, macs: int) -> bool:
    return (
        _enabled and _AVAILABLE and macs >= MIN_MACS
        and a.device.type == "cpu" and a.dtype == torch.float32 and b.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
    )  # fmt: skip


def _dense(t: torch.Tensor) -> torch.Tensor:
    # oneDNN reads a row- or column-major operand in place (weight.t(), x.t() cost no copy), but
    # falls back to a reference kernel on any other strides (a column slice of a weight: 40x slower)
    return t if t.is_contiguous() or t.t().is_contiguous() else t.contiguous()


def _pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(_dense(x), _dense(weight), bias, "none", [], "")


def mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for 2-D ``a`` (m, k) and ``b`` (k, n); no autograd."""
    if _onednn(a, b, a.shape[0] * a.shape[1] * b.shape[1]):
        return _pointwise(a, b.t(), None)
    return a @ b


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.linear(x, weight, bias)``, differentiable, with oneDNN products where they pay."""
    rows = x.numel() // x.shape[-1] if x.dim() and x.shape[-1] else 0
    macs = rows * weight.shape[0] * weight.shape[1]
    if not _onednn(x, weight, macs) or (bias is not None and bias.dtype != x.dtype):
        return F.linear(x, weight, bias)
    needs_grad = x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    if not (torch.is_grad_enabled() and needs_grad):
        return _pointwise(x.reshape(-1, x.shape[-1]), weight, bias).reshape(*x.shape[:-1], weight.shape[0])
    return _Linear.apply(x, weight, bias)


class Linear(nn.Linear):
    """``nn.Linear`` computed by :func:`linear`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


class _Linear(Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2, weight)
        ctx.has_bias = bias is not None
        ctx.set_materialize_grads(False)
        return _pointwise(x2, weight, bias).reshape(*lead, weight.shape[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor | None) -> Any:
        if grad is None:
            return None, None, None
        x2, weight = ctx.saved_tensors
        lead = grad.shape[:-1]
        g2 = grad.reshape(-1, grad.shape[-1])
        grad_x = mm(g2, weight).reshape(*lead, weight.shape[1]) if ctx.needs_input_grad[0] else None
        grad_w = mm(g2.t(), x2) if ctx.needs_input_grad[1] else None
        grad_b = g2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b
