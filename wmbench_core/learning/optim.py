"""Optimisers built with PyTorch's fused kernels where they exist.

``torch.optim.Adam``/``AdamW`` default to one element-wise pass per operation and per tensor on
CPU (about ten passes over every parameter-sized tensor per step, with temporaries); the fused
implementation (CPU, CUDA and MPS since torch 2.4) does the same update in one pass. Same
algorithm; results agree to float rounding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import torch

Opt = TypeVar("Opt", torch.optim.Adam, torch.optim.AdamW)

#: device types with a fused Adam/AdamW kernel
FUSED_DEVICES = ("cpu", "cuda", "mps")


def fused_adam(cls: type[Opt], params: Iterable[Any], **kwargs: Any) -> Opt:
    """``cls(params, **kwargs)`` (``cls`` is Adam or AdamW; ``params`` tensors or param groups),
    fused when every parameter is a floating-point tensor on a device that has the kernel."""
    groups = list(params)
    tensors = [p for g in groups for p in (g["params"] if isinstance(g, dict) else [g])]
    fused = bool(tensors) and all(
        p.device.type in FUSED_DEVICES and p.is_floating_point() for p in tensors
    )
    return cls(groups, fused=fused or None, **kwargs)
