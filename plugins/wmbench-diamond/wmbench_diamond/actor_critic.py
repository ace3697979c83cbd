"""Actor-critic (paper §3, App. F): single-frame CNN -> LSTMCell -> policy and value heads,
trained by REINFORCE with a value baseline on λ-returns of imagined rollouts.

The heads start at zero, so the first policy is uniform and the first values are 0. The
objective is L = MSE(V, sg(Λ)) - E[log π(a) · sg(Λ - V)] - η · H(π), with Λ the λ-returns of
sign-clipped (predicted) rewards, bootstrapped at the horizon and cut at predicted termination.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.learning.returns import lambda_returns
from wmbench_diamond.configs import ActorCriticConfig
from wmbench_diamond.reward_end_model import LSTMState, init_lstm_
from wmbench_diamond.unet import conv3x3, group_norm, to_layout


class SmallResBlock(nn.Module):
    """GN -> SiLU -> conv3x3, plus an identity (or 1x1 conv) skip."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.f = nn.Sequential(group_norm(c_in), nn.SiLU(), conv3x3(c_in, c_out))
        self.skip = nn.Conv2d(c_in, c_out, kernel_size=1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.f(x)


class SparseConvEncoder(nn.Module):
    """Tiny-only encoder (``encoder="conv_relu"``, not in the paper): frames rescaled from
    [-1, 1] to [0, 1], one conv3x3 and a ReLU. Black background pixels are then 0: they give
    the conv weights no gradient and the LSTM only the small ReLU(bias). The paper's GroupNorm
    CNN turns catch's background into a large constant LSTM input, and REINFORCE with Adam
    then learnt ~5x slower per sample on the real env (plugin README)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = conv3x3(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv((x + 1) / 2))


class ActorCritic(nn.Module):
    def __init__(self, cfg: ActorCriticConfig, num_actions: int, image_size: int, img_channels: int = 3) -> None:
        super().__init__()
        self.cfg = cfg
        self.channels_last = False  # set by DiamondModels
        ch = cfg.channels
        if cfg.encoder == "conv_relu":
            self.encoder: nn.Module = SparseConvEncoder(img_channels, ch[0])
            features = ch[0] * image_size * image_size
        elif cfg.encoder == "cnn":
            layers: list[nn.Module] = [conv3x3(img_channels, ch[0])]
            for i, c in enumerate(ch):
                layers.append(SmallResBlock(ch[max(0, i - 1)], c))
                if cfg.down[i]:
                    layers.append(nn.MaxPool2d(2))
            self.encoder = nn.Sequential(*layers)
            side = image_size // 2 ** sum(1 for d in cfg.down if d)
            features = ch[-1] * side * side
        else:
            raise ValueError(f"actor_critic.encoder must be 'cnn' or 'conv_relu', not {cfg.encoder!r}")
        self.lstm = nn.LSTMCell(features, cfg.lstm_dim)
        init_lstm_(self.lstm.weight_ih, self.lstm.weight_hh, self.lstm.bias_ih, self.lstm.bias_hh)
        self.actor = nn.Linear(cfg.lstm_dim, num_actions)
        self.critic = nn.Linear(cfg.lstm_dim, 1)
        for head in (self.actor, self.critic):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> LSTMState:
        z = torch.zeros(batch, self.cfg.lstm_dim, device=device)
        return z, z.clone()

    def forward(self, obs: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """obs (B, C, H, W) in [-1, 1] -> policy logits (B, A), value (B,), new (h, c)."""
        h, c = self.lstm(self.encoder(to_layout(obs, self.channels_last)).flatten(1), state)
        return self.actor(h), self.critic(h)[:, 0], (h, c)

    @torch.no_grad()
    def burn_in(self, frames: torch.Tensor, state: LSTMState) -> LSTMState:
        """Advance the LSTM over real context frames (B, T, C, H, W) without acting."""
        for t in range(frames.shape[1]):
            _, _, state = self(frames[:, t], state)
        return state


def sample_actions(
    logits: torch.Tensor,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    epsilon: float = 0.0,
) -> torch.Tensor:
    """Sample from softmax(logits / T); with probability ε a uniformly random action instead."""
    probs = F.softmax(logits / temperature, dim=-1)
    act = torch.multinomial(probs, 1, generator=generator)[:, 0]
    if epsilon > 0:
        u = torch.rand(act.shape, generator=generator, device=act.device)
        rand = torch.randint(logits.shape[-1], act.shape, generator=generator, device=act.device)
        act = torch.where(u < epsilon, rand, act)
    return act


def actor_critic_loss(
    logits: torch.Tensor,
    values: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    ends: torch.Tensor,
    cfg: ActorCriticConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """logits (T, B, A), values (T+1, B) (the last is the bootstrap), actions/rewards/ends (T, B)."""
    with torch.no_grad():
        discounts = cfg.gamma * (1.0 - ends.float())
        returns = lambda_returns(rewards.sign(), values.detach(), discounts, cfg.lambda_)
    v = values[:-1]
    value_loss = F.mse_loss(v, returns)
    logp = F.log_softmax(logits, dim=-1)
    logp_a = logp.gather(-1, actions[..., None])[..., 0]
    advantage = (returns - v).detach()
    policy_loss = -(logp_a * advantage).mean()
    entropy = -(logp.exp() * logp).sum(-1).mean()
    loss = cfg.value_weight * value_loss + policy_loss - cfg.entropy_weight * entropy
    return loss, {
        "actor_critic/loss_value": value_loss.item(),
        "actor_critic/loss_policy": policy_loss.item(),
        "actor_critic/entropy": entropy.item(),
        "actor_critic/return": returns.mean().item(),
    }
