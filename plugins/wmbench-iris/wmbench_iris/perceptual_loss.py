"""LPIPS-style perceptual loss (Zhang et al. 2018) on VGG16 features, as the IRIS tokenizer uses.

The reference downloads torchvision's ImageNet VGG16 and the LPIPS linear heads at run time.
wmbench never downloads anything: the user passes a weights file with
``--set tokenizer.perceptual_weights=/path/vgg_lpips.pt``. The file is a plain state dict read
with ``torch.load(weights_only=True)`` holding

* ``features.<i>.weight`` / ``features.<i>.bias`` for VGG16's 13 convolutions in torchvision's
  ``vgg16().features`` numbering (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28), and
* ``lin<k>.weight`` (or LPIPS's own ``lin<k>.model.1.weight``), shape (1, C_k, 1, 1), k = 0..4.

Without a file the term is off, with a warning, and the resolved config records it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.agent import ConfigError

# VGG16 "D" configuration: conv widths, "M" = 2x2 max-pool; LPIPS taps relu1_2 ... relu5_3.
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_TAPS = (3, 8, 15, 22, 29)  # torchvision feature indices after which LPIPS reads activations
_TAP_CHANNELS = (64, 128, 256, 512, 512)
# LPIPS input scaling layer constants (inputs in [-1, 1] -> ImageNet-normalised)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for v in _VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
            cin = int(v)
    return nn.Sequential(*layers)


class PerceptualLoss(nn.Module):
    """Frozen: d(x, y) = sum_k mean_hw || w_k * (f_k(x)/|f_k(x)| - f_k(y)/|f_k(y)|) ||^2."""

    def __init__(self) -> None:
        super().__init__()
        self.features = _vgg16_features()
        self.lins = nn.ParameterList(
            [nn.Parameter(torch.ones(1, c, 1, 1) / c) for c in _TAP_CHANNELS]
        )
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        conv_idx = [i for i, m in enumerate(self.features) if isinstance(m, nn.Conv2d)]
        for i, conv in zip(conv_idx, convs):
            for name in ("weight", "bias"):
                key = f"features.{i}.{name}"
                if key not in state:
                    raise ConfigError(f"perceptual weights file lacks {key!r}")
                getattr(conv, name).data.copy_(state[key])
        for k, p in enumerate(self.lins):
            key = next((x for x in (f"lin{k}.weight", f"lin{k}.model.1.weight") if x in state), None)
            if key is None:
                raise ConfigError(f"perceptual weights file lacks 'lin{k}.weight'")
            p.data.copy_(state[key].reshape(p.shape))

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # always frozen

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        h = (x - self.shift) / self.scale
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in _TAPS:
                out.append(h)
                if i == _TAPS[-1]:
                    break
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y in [-1, 1], (B, 3, H, W) -> (B,) distances."""
        total = x.new_zeros(x.shape[0])
        for fx, fy, w in zip(self._taps(x), self._taps(y), self.lins):
            fx = F.normalize(fx, dim=1, eps=1e-10)
            fy = F.normalize(fy, dim=1, eps=1e-10)
            total = total + (w * (fx - fy).pow(2)).sum(1).mean((1, 2))
        return total


def load_perceptual_loss(path: str) -> PerceptualLoss | None:
    """The loss with weights from ``path``; None (and a warning) when no path is given."""
    if not path:
        warnings.warn(
            "IRIS perceptual (LPIPS) loss is off: no VGG16 weights file given "
            "(--set tokenizer.perceptual_weights=PATH); recorded as perceptual_loss_active=false",
            stacklevel=2,
        )
        return None
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"tokenizer.perceptual_weights: file {path!r} does not exist")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a bad input
        raise ConfigError(f"tokenizer.perceptual_weights: cannot read {path!r} as a weights-only "
                          f"state dict ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise ConfigError(f"tokenizer.perceptual_weights: {path!r} is not a state dict")
    loss = PerceptualLoss()
    loss.load_weights(state)
    return loss
