"""Building blocks shared by the three Dreamers: MLP, CNN encoder and decoder, GRU cells."""

from __future__ import annotations

import torch
from torch import nn

from wmbench_core.learning.linear import Linear
from wmbench_dreamer.onehot_input import OneHotInput
from wmbench_dreamer.recurrent_linear import RecurrentLinear

#: LayerNorm epsilon of the DreamerV3 code (also used by sheeprl)
LN_EPS = 1e-3

ACTIVATIONS = {"silu": nn.SiLU, "elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def init_weights(module: nn.Module) -> None:
    """Xavier-uniform ("fan_avg") weights and zero biases, as the Dreamer codebases do."""
    for m in module.modules():
        if getattr(m, "_zero_init", False):
            continue
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def zero_init(layer: nn.Linear) -> nn.Linear:
    """Output layer initialised to zero (DreamerV3's ``outscale 0`` for reward and critic): the
    two-hot heads start out predicting exactly 0 instead of a random large value."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    layer._zero_init = True  # init_weights leaves it alone
    return layer


class MLP(nn.Sequential):
    """``layers`` x (Linear -> [LayerNorm] -> act); no output layer (heads add their own).

    The input may be a :class:`OneHotInput` (imagined states): its first layer then gathers
    weight columns instead of multiplying by the one-hot part. ``linear`` is the class of its
    dense layers (:class:`RecurrentLinear` inside the RSSM's time loop; otherwise the core's
    :class:`~wmbench_core.learning.linear.Linear`, oneDNN products on CPU)."""

    def __init__(
        self, in_dim: int, layers: int, units: int, act: str, norm: bool, linear: type[nn.Linear] = Linear
    ) -> None:
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(linear(in_dim if i == 0 else units, units, bias=not norm))
            if norm:
                mods.append(nn.LayerNorm(units, eps=LN_EPS))
            mods.append(activation(act))
        super().__init__(*mods)
        self.out_dim = units if layers else in_dim

    def forward(self, x: torch.Tensor | OneHotInput) -> torch.Tensor:
        layers = iter(self)
        if isinstance(x, OneHotInput):
            first = next(layers, None)
            x = x.to_dense() if first is None else x.linear(first)
        for layer in layers:
            x = layer(x)
        return x


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of every pixel of an NCHW tensor (DreamerV3's CNN norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


#: image side -> number of stride-2 stages (64 is every paper's; smaller sides drop the first
#: stages, so the last stages and the 4x4 / 2x2 bottleneck are the same layers as at 64)
STAGES = {64: 4, 32: 3, 16: 2}
#: DreamerV1/V2 decoder kernels per image side: (n - 1) * 2 + k lands exactly on the side
V1_DECODER_KERNELS = {64: (5, 5, 6, 6), 32: (5, 6, 6), 16: (6, 6)}


def cnn_stages(image_size: int) -> int:
    if image_size not in STAGES:
        raise ValueError(f"image_size {image_size} is not supported; valid: {', '.join(map(str, STAGES))}")
    return STAGES[image_size]


class ConvEncoder(nn.Module):
    """Stride-2 convolutions with kernel 4 (four at 64x64), channels depth x (1, 2, 4, 8).

    style "v3": "same" padding with LayerNorm, 64x64 -> 4x4 (DreamerV3 2023, ``resnet`` with 0
    blocks); style "v1": valid padding, 64x64 -> 2x2 (DreamerV1/V2). Smaller images (toy
    presets) use the last stages only, ending at the same 4x4 / 2x2 grid.
    """

    def __init__(
        self, in_channels: int, depth: int, act: str, norm: bool, style: str, image_size: int = 64
    ) -> None:
        super().__init__()
        if style not in ("v1", "v3"):
            raise ValueError(f"unknown cnn_style {style!r}; valid: v1, v3")
        pad = 1 if style == "v3" else 0
        stages = cnn_stages(image_size)
        mods: list[nn.Module] = []
        ch = in_channels
        for i in range(4 - stages, 4):
            out = depth * 2**i
            mods.append(nn.Conv2d(ch, out, 4, stride=2, padding=pad, bias=not norm))
            if norm:
                mods.append(ChannelNorm(out))
            mods.append(activation(act))
            ch = out
        self.net = nn.Sequential(*mods)
        side = 4 if style == "v3" else 2
        self.out_dim = ch * side * side

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(..., C, S, S) in [-0.5, 0.5] -> (..., out_dim)."""
        lead = images.shape[:-3]
        x = self.net(images.reshape(-1, *images.shape[-3:]))
        return x.reshape(*lead, -1)


class ConvDecoder(nn.Module):
    """Mean image from the model state.

    style "v3": Linear to 4x4x(8 depth), then transposed convs k4 s2 with LayerNorm (V3 2023);
    style "v1": Linear to 32 depth at 1x1, then transposed convs with kernels 5, 5, 6, 6 (V1/V2).
    Smaller images (toy presets) keep the first stages only.
    """

    def __init__(
        self, in_dim: int, out_channels: int, depth: int, act: str, norm: bool, style: str, image_size: int = 64
    ) -> None:
        super().__init__()
        self.style = style
        stages = cnn_stages(image_size)
        if style == "v3":
            self.side, ch = 4, depth * 8
            self.proj = Linear(in_dim, self.side * self.side * ch)
            kernels, pad = (4,) * stages, 1
        else:
            self.side, ch = 1, depth * 32
            self.proj = Linear(in_dim, ch)
            kernels, pad = V1_DECODER_KERNELS[image_size], 0
        self.channels = ch
        outs = [depth * 4, depth * 2, depth][: stages - 1] + [out_channels]
        mods: list[nn.Module] = []
        for i, (k, out) in enumerate(zip(kernels, outs)):
            last = i == len(outs) - 1
            mods.append(nn.ConvTranspose2d(ch, out, k, stride=2, padding=pad, bias=last or not norm))
            if not last:
                if norm:
                    mods.append(ChannelNorm(out))
                mods.append(activation(act))
            ch = out
        self.net = nn.Sequential(*mods)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(..., in_dim) -> (..., C, S, S) mean image in [-0.5, 0.5] units."""
        lead = features.shape[:-1]
        x = self.proj(features.reshape(-1, features.shape[-1]))
        if self.side == 1:
            x = self.net[1:](_transposed_conv_of_1x1(self.net[0], x))
        else:
            x = self.net(x.reshape(-1, self.channels, self.side, self.side))
        return x.reshape(*lead, *x.shape[1:])


def _transposed_conv_of_1x1(conv: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    """``conv`` applied to (N, C) as a (N, C, 1, 1) input, computed as one matrix product.

    With one input pixel and no padding, a transposed convolution only adds each channel's
    kernel scaled by its value: out[n, o, i, j] = sum_c x[n, c] W[c, o, i, j] (+ bias[o]). torch's
    CPU transposed-convolution kernel took ~14x longer for this shape than the product (V1/V2's
    first decoder layer: 110 ms of a ~220 ms tiny update, forward and backward).
    """
    assert conv.padding == (0, 0) and conv.output_padding == (0, 0) and conv.groups == 1
    out = (x @ conv.weight.flatten(1)).view(-1, conv.out_channels, *conv.kernel_size)
    return out if conv.bias is None else out + conv.bias[:, None, None]


class NormGRUCell(nn.Module):
    """GRU of DreamerV2/V3: one dense layer from [input, h] to 3 x units, LayerNorm, then
    reset/candidate/update with the update gate's bias shifted by -1 (keeps memory early on)."""

    def __init__(self, in_dim: int, units: int, norm: bool = True, update_bias: float = -1.0):
        super().__init__()
        self.units = units
        self.update_bias = update_bias
        # separate weights for the input and the recurrent state, so that input-only parts
        # can be computed for a whole sequence at once (same function as one dense layer)
        self.inp = RecurrentLinear(in_dim, 3 * units, bias=not norm)
        self.rec = RecurrentLinear(units, 3 * units, bias=False)
        self.norm = nn.LayerNorm(3 * units, eps=LN_EPS) if norm else nn.Identity()

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        parts = self.norm(self.inp(x) + self.rec(h))
        reset, cand, update = parts.split(self.units, dim=-1)
        reset = torch.sigmoid(reset)
        cand = torch.tanh(reset * cand)
        update = torch.sigmoid(update + self.update_bias)
        return update * cand + (1.0 - update) * h


class PlainGRUCell(nn.Module):
    """The standard GRU cell of DreamerV1 (``tf.keras.layers.GRUCell``: reset gate applied after
    the recurrent product, as torch's cell, and Keras's initialisers: Glorot-uniform input
    kernel, orthogonal recurrent kernel, zero biases)."""

    def __init__(self, in_dim: int, units: int) -> None:
        super().__init__()
        self.units = units
        self.cell = nn.GRUCell(in_dim, units)
        nn.init.xavier_uniform_(self.cell.weight_ih)
        nn.init.orthogonal_(self.cell.weight_hh)
        nn.init.zeros_(self.cell.bias_ih)
        nn.init.zeros_(self.cell.bias_hh)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.cell(x, h)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "ConvDecoder",
    "ConvEncoder",
    "MLP",
    "NormGRUCell",
    "PlainGRUCell",
    "activation",
    "count_parameters",
    "init_weights",
    "zero_init",
]
