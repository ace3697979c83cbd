"""Building blocks of DIAMOND's networks and the denoiser's U-Net (paper §3, App. D).

Conventions of the reference code that matter for faithfulness and parameter counts:
GroupNorm uses groups of 32 *channels* (``groups = max(1, C // 32)``); adaptive GroupNorm has
no affine parameters of its own and takes (scale, shift) from a Linear of the conditioning
vector; the second conv of every ResBlock and every attention output projection start at zero.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.learning.upsample import NearestUpsampleConv

GROUP_SIZE = 32  # channels per GroupNorm group
GN_EPS = 1e-5


def num_groups(channels: int) -> int:
    return max(1, channels // GROUP_SIZE)


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups(channels), channels, eps=GN_EPS)


def to_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """NHWC memory layout for the convs of an inference pass when asked (values and shapes are
    unchanged; the weights stay NCHW). Passes that record a graph for training stay NCHW: on
    the 2-core AVX2 CPU this was measured on, oneDNN's NHWC backward was slower (denoiser update
    15.1 s NHWC, 14.1 s NCHW) while NHWC inference was faster (imagined frames 5.6 s NCHW, 5.0 s
    NHWC)."""
    if channels_last and not torch.is_grad_enabled():
        return x.contiguous(memory_format=torch.channels_last)
    return x


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)


class FourierFeatures(nn.Module):
    """Random Fourier features of a scalar (the noise level): fixed, not trained."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("freqs", torch.randn(1, dim // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = 2 * math.pi * x[:, None] * self.freqs
        return torch.cat([f.cos(), f.sin()], dim=-1)


class AdaGroupNorm(nn.Module):
    """GroupNorm whose scale and shift are predicted from the conditioning vector."""

    def __init__(self, channels: int, cond_channels: int) -> None:
        super().__init__()
        self.groups = num_groups(channels)
        self.linear = nn.Linear(cond_channels, 2 * channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(cond).chunk(2, dim=1)
        n, c, h, w = x.shape
        if x.is_contiguous():
            # NCHW (training passes): seen as one sample of n*c channels, each sample's groups stay
            # groups, and its scale and shift become that sample's channels' affine: one native
            # kernel instead of normalise-then-addcmul, ~1.7x faster forward + backward
            x = F.group_norm(
                x.reshape(1, n * c, h, w), n * self.groups, (1 + scale).flatten(), shift.flatten(), GN_EPS
            )
            return x.view(n, c, h, w)
        x = F.group_norm(x, self.groups, eps=GN_EPS)  # NHWC inference: the reshape would copy
        return torch.addcmul(shift[:, :, None, None], x, 1 + scale[:, :, None, None])


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over the pixels of a feature map (head dim 8). As in the
    reference code (``models/blocks.py``), the residual is added to the GroupNorm-ed input,
    not to the input itself: the block returns ``norm(x) + attention(norm(x))``."""

    def __init__(self, channels: int, head_dim: int = 8) -> None:
        super().__init__()
        self.heads = max(1, channels // head_dim)
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, kernel_size=1)
        self.out = nn.Conv2d(channels, channels, kernel_size=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = self.norm(x)
        qkv = self.qkv(x).reshape(n, 3, self.heads, c // self.heads, h * w)
        q, k, v = (t.transpose(-1, -2) for t in qkv.unbind(1))  # (n, heads, hw, d)
        y = F.scaled_dot_product_attention(q, k, v)
        return x + self.out(y.transpose(-1, -2).reshape(n, c, h, w))


class ResBlock(nn.Module):
    """AdaGN -> SiLU -> conv -> AdaGN -> SiLU -> conv (+ skip), optional attention after."""

    def __init__(self, c_in: int, c_out: int, cond_channels: int, attn: bool = False) -> None:
        super().__init__()
        self.proj = nn.Conv2d(c_in, c_out, kernel_size=1) if c_in != c_out else nn.Identity()
        self.norm1 = AdaGroupNorm(c_in, cond_channels)
        self.conv1 = conv3x3(c_in, c_out)
        self.norm2 = AdaGroupNorm(c_out, cond_channels)
        self.conv2 = conv3x3(c_out, c_out)
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity (skip only)
        self.attn = SelfAttention2d(c_out) if attn else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        r = self.proj(x)
        x = self.conv1(F.silu(self.norm1(x, cond)))
        x = self.conv2(F.silu(self.norm2(x, cond)))
        return self.attn(x + r)


class ResBlocks(nn.Module):
    def __init__(
        self, c_ins: list[int], c_outs: list[int], cond_channels: int, attn: bool = False
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            ResBlock(i, o, cond_channels, attn) for i, o in zip(c_ins, c_outs)
        )

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, skips: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        outs = []
        for i, block in enumerate(self.blocks):
            if skips is not None:
                x = torch.cat([x, skips[i]], dim=1)
            x = block(x, cond)
            outs.append(x)
        return x, outs


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
        nn.init.orthogonal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class UNet(nn.Module):
    """U-Net of conditioned ResBlocks: ``len(channels)`` levels, each halving the resolution
    after the first; going up, every ResBlock eats one skip (level input + each block output),
    so each up level has ``depth + 1`` blocks. Self-attention in the two middle blocks."""

    def __init__(
        self,
        cond_channels: int,
        depths: tuple[int, ...],
        channels: tuple[int, ...],
        attn_depths: tuple[int, ...],
    ) -> None:
        super().__init__()
        if not (len(depths) == len(channels) == len(attn_depths)):
            raise ValueError("depths, channels and attn_depths must have the same length")
        self.num_down = len(channels) - 1
        down, up = [], []
        for i, n in enumerate(depths):
            c1, c2 = channels[max(0, i - 1)], channels[i]
            down.append(ResBlocks([c1] + [c2] * (n - 1), [c2] * n, cond_channels, bool(attn_depths[i])))
            up.append(
                ResBlocks([2 * c2] * n + [c1 + c2], [c2] * n + [c1], cond_channels, bool(attn_depths[i]))
            )
        self.down_blocks = nn.ModuleList(down)
        self.up_blocks = nn.ModuleList(reversed(up))
        c = channels[-1]
        self.mid_blocks = ResBlocks([c, c], [c, c], cond_channels, attn=True)
        self.downsamples = nn.ModuleList([nn.Identity()] + [Downsample(c) for c in channels[:-1]])
        self.upsamples = nn.ModuleList([nn.Identity()] + [NearestUpsampleConv(c) for c in reversed(channels[:-1])])

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.num_down
        ph, pw = (-h) % m, (-w) % m  # pad to a multiple of 2^levels, crop back after
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        skips = []
        for block, down in zip(self.down_blocks, self.downsamples):
            x_in = down(x)
            x, outs = block(x_in, cond)
            skips.append([x_in, *outs])
        x, _ = self.mid_blocks(x, cond)
        for block, up, level_skips in zip(self.up_blocks, self.upsamples, reversed(skips)):
            x, _ = block(up(x), cond, level_skips[::-1])
        return x[..., :h, :w]
