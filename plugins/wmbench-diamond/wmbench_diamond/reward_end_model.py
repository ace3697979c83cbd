"""Reward/termination model R_ψ (paper §3, App. D): action-conditioned CNN + LSTM.

Each step sees the pair (x_t, x_{t+1}) stacked on channels, with a_t conditioning every
ResBlock through adaptive GroupNorm; an LSTM carries memory across steps; the head gives 3
reward logits (sign of r: -1, 0, +1) and 2 termination logits. In imagination both are
*sampled*, and the LSTM is first burned in on the real conditioning transitions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_diamond.configs import RewEndConfig
from wmbench_diamond.unet import Downsample, ResBlocks, conv3x3, to_layout

LSTMState = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (B, lstm_dim)


def init_lstm_(weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias_ih: torch.Tensor, bias_hh: torch.Tensor) -> None:
    """Xavier input weights, orthogonal recurrent weights, forget-gate bias 1 (reference
    ``utils.init_lstm``: one orthogonal init of the whole (4 * hidden, hidden) recurrent matrix,
    so each gate's block has orthonormal columns only jointly)."""
    hidden = weight_hh.shape[1]
    nn.init.xavier_uniform_(weight_ih)
    nn.init.orthogonal_(weight_hh)
    nn.init.zeros_(bias_ih)
    nn.init.zeros_(bias_hh)
    bias_ih.data[hidden : 2 * hidden] = 1.0  # gate order i, f, g, o


class RewEndEncoder(nn.Module):
    def __init__(self, cfg: RewEndConfig, in_channels: int) -> None:
        super().__init__()
        ch = cfg.channels
        self.conv_in = conv3x3(in_channels, ch[0])
        blocks = []
        for i, n in enumerate(cfg.depths):
            c1, c2 = ch[max(0, i - 1)], ch[i]
            blocks.append(ResBlocks([c1] + [c2] * (n - 1), [c2] * n, cfg.cond_channels, bool(cfg.attn_depths[i])))
        blocks.append(ResBlocks([ch[-1]] * 2, [ch[-1]] * 2, cfg.cond_channels, attn=True))
        self.blocks = nn.ModuleList(blocks)
        self.downsamples = nn.ModuleList(
            [nn.Identity()] + [Downsample(c) for c in ch[:-1]] + [nn.Identity()]
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(x)
        for block, down in zip(self.blocks, self.downsamples):
            x, _ = block(down(x), cond)
        return x


class RewEndModel(nn.Module):
    def __init__(self, cfg: RewEndConfig, num_actions: int, image_size: int, img_channels: int = 3) -> None:
        super().__init__()
        self.cfg = cfg
        self.channels_last = False  # set by DiamondModels
        self.encoder = RewEndEncoder(cfg, 2 * img_channels)
        self.act_emb = nn.Embedding(num_actions, cfg.cond_channels)
        side = image_size // 2 ** (len(cfg.channels) - 1)
        self.lstm = nn.LSTM(cfg.channels[-1] * side * side, cfg.lstm_dim, batch_first=True)
        init_lstm_(self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.lstm.bias_ih_l0, self.lstm.bias_hh_l0)
        self.head = nn.Sequential(
            nn.Linear(cfg.lstm_dim, cfg.lstm_dim), nn.SiLU(), nn.Linear(cfg.lstm_dim, 3 + 2, bias=False)
        )

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> LSTMState:
        z = torch.zeros(batch, self.cfg.lstm_dim, device=device)
        return z, z.clone()

    def forward(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        state: LSTMState | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """obs/next_obs (B, T, C, H, W), act (B, T) -> reward logits (B, T, 3), termination
        logits (B, T, 2), new state."""
        b, t = act.shape
        x = to_layout(torch.cat([obs, next_obs], dim=2).flatten(0, 1), self.channels_last)
        x = self.encoder(x, self.act_emb(act).flatten(0, 1)).reshape(b, t, -1)
        hc = None if state is None else (state[0][None].contiguous(), state[1][None].contiguous())
        y, (h, c) = self.lstm(x, hc)
        logits = self.head(y)
        return logits[..., :3], logits[..., 3:], (h[0], c[0])

    @torch.no_grad()
    def predict_rew_end(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        state: LSTMState,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        """One imagined step: sampled reward in {-1, 0, 1} and termination in {0, 1}."""
        lr, le, state = self(obs[:, None], act[:, None], next_obs[:, None], state)
        rew = torch.multinomial(F.softmax(lr[:, 0], -1), 1, generator=generator)[:, 0] - 1
        end = torch.multinomial(F.softmax(le[:, 0], -1), 1, generator=generator)[:, 0]
        return rew.float(), end.bool(), state

    def compute_loss(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        rew: torch.Tensor,
        end: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy on sign(r) and on termination over the valid (unpadded) steps."""
        lr, le, _ = self(obs, act, next_obs)
        m = mask.bool()
        target_rew = rew.sign().long().add(1)[m]
        target_end = end.long()[m]
        loss_rew = F.cross_entropy(lr[m], target_rew)
        loss_end = F.cross_entropy(le[m], target_end)
        return loss_rew + loss_end, {"rew_end/loss_rew": loss_rew.item(), "rew_end/loss_end": loss_end.item()}
