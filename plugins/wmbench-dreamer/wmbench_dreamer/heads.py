"""Prediction heads on the model state: reward, continue, critic (value) and the actor.

Scalar heads are either a two-hot distribution over 255 symlog-spaced bins (V3) or a unit-variance
Gaussian, i.e. MSE (V1/V2). The continue head is a Bernoulli.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.learning.linear import Linear
from wmbench_core.learning.twohot import TwoHot
from wmbench_dreamer.distributions import categorical_entropy, sample_onehot, unimix_logits
from wmbench_dreamer.networks import MLP, zero_init


class ScalarHead(nn.Module):
    """Reward or critic head. ``kind`` "twohot" (V3) or "mse" (unit Gaussian, V1/V2)."""

    def __init__(
        self,
        in_dim: int,
        layers: int,
        units: int,
        act: str,
        norm: bool,
        kind: str,
        bins: int = 255,
        low: float = -20.0,
        high: float = 20.0,
    ) -> None:
        super().__init__()
        if kind not in ("twohot", "mse"):
            raise ValueError(f"unknown head kind {kind!r}; valid: twohot, mse")
        self.kind = kind
        self.mlp = MLP(in_dim, layers, units, act, norm)
        self.out = Linear(self.mlp.out_dim, bins if kind == "twohot" else 1)
        if kind == "twohot":
            zero_init(self.out)  # V3: reward and critic start at exactly 0
            self.twohot = TwoHot(bins, low, high, transform="symlog")

    def _apply(self, fn, recurse=True):  # keep the two-hot bins on the module's device
        out = super()._apply(fn, recurse)
        if self.kind == "twohot":
            self.twohot.bins = fn(self.twohot.bins)
        return out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Raw output: logits over bins (twohot) or the mean (mse, last dim squeezed)."""
        out = self.out(self.mlp(features))
        return out if self.kind == "twohot" else out.squeeze(-1)

    def mean(self, raw: torch.Tensor) -> torch.Tensor:
        return self.twohot.decode(raw) if self.kind == "twohot" else raw

    def nll(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of ``target`` per element (constants dropped)."""
        if self.kind == "twohot":
            return self.twohot.loss(raw, target)
        return 0.5 * (raw - target.detach()).pow(2)


class ContinueHead(nn.Module):
    """Bernoulli probability that the episode continues after this state."""

    def __init__(self, in_dim: int, layers: int, units: int, act: str, norm: bool) -> None:
        super().__init__()
        self.mlp = MLP(in_dim, layers, units, act, norm)
        self.out = Linear(self.mlp.out_dim, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.out(self.mlp(features)).squeeze(-1)  # logits

    @staticmethod
    def nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")


class Actor(nn.Module):
    """One-hot categorical policy over the discrete actions (with unimix in V3)."""

    def __init__(
        self, in_dim: int, num_actions: int, layers: int, units: int, act: str, norm: bool,
        unimix: float,
    ) -> None:  # fmt: skip
        super().__init__()
        self.mlp = MLP(in_dim, layers, units, act, norm)
        self.out = Linear(self.mlp.out_dim, num_actions)
        self.unimix = unimix

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the actions (..., A)."""
        return unimix_logits(self.out(self.mlp(features)), self.unimix)

    @staticmethod
    def sample(log_probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_onehot(log_probs, generator)

    @staticmethod
    def entropy(log_probs: torch.Tensor) -> torch.Tensor:
        return categorical_entropy(log_probs)
