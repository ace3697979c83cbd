"""The actor-critic (IRIS §2.3): a CNN + LSTM on reconstructed frames, trained in imagination.

Four [3x3 conv -> 2x2 max-pool -> ReLU] stages take a 64x64 frame to 64x4x4 = 1024 features,
an LSTMCell (1024 -> 512) carries memory, and linear heads give action logits and a value.
Loss (reference code): REINFORCE with a value baseline on λ-returns, an entropy bonus, and an
MSE value regression; no masking after an imagined termination (as in the reference) unless
``mask_after_end`` is set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_iris.configs import ActorCriticConfig

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), batch on dim 0


class ActorCritic(nn.Module):
    def __init__(self, cfg: ActorCriticConfig, num_actions: int, resolution: int = 64) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        cin = 3
        for c in cfg.conv_channels:
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.MaxPool2d(2, 2), nn.ReLU()]
            cin = c
        self.cnn = nn.Sequential(*layers, nn.Flatten())
        side = resolution // 2 ** len(cfg.conv_channels)
        self.lstm = nn.LSTMCell(cin * side * side, cfg.lstm_dim)
        self.actor = nn.Linear(cfg.lstm_dim, num_actions)
        self.critic = nn.Linear(cfg.lstm_dim, 1)

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        z = torch.zeros(batch, self.cfg.lstm_dim, device=device)
        return z, z.clone()

    def forward(self, frames01: torch.Tensor, state: State,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, State]:
        """frames in [0, 1] (B, 3, 64, 64) -> logits (B, A), values (B,), new state.
        Rows with ``mask`` False (padding) keep their old state."""
        x = frames01 * 2.0 - 1.0 if self.cfg.centered_input else frames01
        h, c = self.lstm(self.cnn(x), state)
        if mask is not None:
            m = mask[:, None]
            h, c = torch.where(m, h, state[0]), torch.where(m, c, state[1])
        return self.actor(h), self.critic(h).squeeze(-1), (h, c)


def actor_critic_loss(logits: torch.Tensor, actions: torch.Tensor, values: torch.Tensor,
                      returns: torch.Tensor, entropy_weight: float, weights: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, dict[str, float]]:
    """logits (T, B, A), actions (T, B), values (T, B) with grad, returns (T, B) λ-returns;
    ``weights`` (T, B) in [0, 1] weight each step's terms (None: all 1, the reference)."""
    if weights is None:
        weights = torch.ones_like(returns)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return (x * weights).sum() / weights.sum().clamp(min=1.0)

    logp = F.log_softmax(logits, -1)
    log_prob = logp.gather(-1, actions[..., None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    loss_actions = -mean(log_prob * (returns - values.detach()))
    loss_entropy = -entropy_weight * mean(entropy)
    loss_values = mean((values - returns).pow(2))
    loss = loss_actions + loss_entropy + loss_values
    return loss, {"policy": loss_actions.item(), "entropy": entropy.mean().item(),
                  "value": loss_values.item()}
