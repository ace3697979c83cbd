"""2x nearest-neighbour upsampling followed by a 3x3 convolution, computed as one transposed
convolution.

The pair ``conv3x3(interpolate(x, scale_factor=2, mode="nearest"))`` is the up-sampling layer of
the DDPM/EDM U-Net (DIAMOND's denoiser) and of the VQGAN decoder (IRIS's tokenizer). Output row
2i + a of the pair only sees input rows i - 1, i (a = 0) or i, i + 1 (a = 1): the 3x3 kernel's rows
that land on the same input row add up. Per axis, with W0, W1, W2 the kernel's taps:

    out[2i]     = W0 x[i-1] + (W1 + W2) x[i]
    out[2i + 1] = (W0 + W1) x[i] + W2 x[i+1]

which is a stride-2 transposed convolution (padding 1) with the 4-tap kernel
K = [W2, W1 + W2, W0 + W1, W0]. Same function and the same parameters (the 3x3 weight and bias:
state dicts do not change), but 4 products per output pixel instead of 9 and no upsampled copy of
the input: on a 2-core CPU, 64 -> 64 channels to 64x64 at batch 32, ~2.2x faster forward and
forward + backward (plugins/wmbench-diamond/README.md, "Speed").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _fold_taps(w: torch.Tensor, dim: int) -> torch.Tensor:
    """3 taps (W0, W1, W2) along ``dim`` -> the 4 taps of the stride-2 transposed convolution."""
    w0, w1, w2 = w.unbind(dim)
    return torch.stack([w2, w1 + w2, w0 + w1, w0], dim)


def upsample_conv_kernel(weight: torch.Tensor) -> torch.Tensor:
    """A 3x3 convolution weight (out, in, 3, 3) -> the (in, out, 4, 4) weight of the transposed
    convolution equal to that convolution applied after 2x nearest upsampling."""
    if weight.shape[-2:] != (3, 3):
        raise ValueError(f"expected a 3x3 kernel, got {tuple(weight.shape[-2:])}")
    return _fold_taps(_fold_taps(weight, 2), 3).transpose(0, 1)


def upsample_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)``,
    computed as one transposed convolution (see the module docstring)."""
    return F.conv_transpose2d(x, upsample_conv_kernel(weight), bias, stride=2, padding=1)


class NearestUpsampleConv(nn.Module):
    """2x nearest-neighbour upsampling, then a 3x3 convolution with padding 1.

    The parameters are those of the 3x3 convolution, under ``conv.weight`` and ``conv.bias``
    (the names of the reference implementations' ``Upsample`` modules)."""

    def __init__(self, in_channels: int, out_channels: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels or in_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample_conv3x3(x, self.conv.weight, self.conv.bias)
