"""The world model: CNN encoder, RSSM, CNN decoder, reward and continue heads, and its loss.

The KL term depends on the version:

* V1 ``plain``:   scale * max(mean KL(q || p), free)                        (free nats 3)
* V2 ``balance``: scale * [a * max(KL(sg q || p), free) + (1 - a) * max(KL(q || sg p), free)]
                  with a = 0.8, the max taken on the batch mean (``free_avg``)
* V3 ``dyn_rep``: 0.5 * max(1, KL(sg q || p)) + 0.1 * max(1, KL(q || sg p)), per sample
"""

from __future__ import annotations

import torch
from torch import nn

from wmbench_core.learning.replay import area_resize
from wmbench_dreamer.configs import DreamerConfig
from wmbench_dreamer.heads import ContinueHead, ScalarHead
from wmbench_dreamer.networks import ConvDecoder, ConvEncoder
from wmbench_dreamer.rssm import RSSM


def kl_loss(
    rssm: RSSM, post: torch.Tensor, prior: torch.Tensor, cfg: DreamerConfig
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The world model's KL term (a scalar) and its diagnostics; see the module docstring."""
    free = cfg.free_nats

    def clip(x: torch.Tensor) -> torch.Tensor:
        if cfg.free_nats_avg:
            return torch.clamp(x.mean(), min=free)
        return torch.clamp(x, min=free).mean()

    if cfg.kl_mode == "plain":
        value = rssm.kl(post, prior)
        return cfg.kl_scale * clip(value), {"kl": value.mean()}
    dyn = rssm.kl(post.detach(), prior)  # trains the prior toward the posterior
    rep = rssm.kl(post, prior.detach())  # trains the posterior toward the prior
    if cfg.kl_mode == "balance":
        a = cfg.kl_balance
        loss = cfg.kl_scale * (a * clip(dyn) + (1.0 - a) * clip(rep))
    elif cfg.kl_mode == "dyn_rep":
        loss = cfg.dyn_scale * clip(dyn) + cfg.rep_scale * clip(rep)
    else:
        raise ValueError(f"unknown kl_mode {cfg.kl_mode!r}; valid: plain, balance, dyn_rep")
    return loss, {"kl": dyn.mean()}


class WorldModel(nn.Module):
    def __init__(self, cfg: DreamerConfig, num_actions: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.channels = 1 if cfg.grayscale else 3
        size = cfg.image_size
        self.encoder = ConvEncoder(self.channels, cfg.cnn_depth, cfg.cnn_act, cfg.norm, cfg.cnn_style, size)
        self.rssm = RSSM(cfg, self.encoder.out_dim, num_actions)
        feat = self.rssm.stoch_dim + cfg.deter
        self.feat_dim = feat
        self.decoder = ConvDecoder(feat, self.channels, cfg.cnn_depth, cfg.cnn_act, cfg.norm, cfg.cnn_style, size)
        self.reward = ScalarHead(
            feat, cfg.reward_layers, cfg.head_units, cfg.head_act, cfg.norm, cfg.reward_head,
            cfg.twohot_bins, cfg.twohot_low, cfg.twohot_high,
        )  # fmt: skip
        self.cont = ContinueHead(feat, cfg.cont_layers, cfg.head_units, cfg.head_act, cfg.norm)
        # V3 sums the squared error over pixels; V1/V2 use a unit Gaussian (half of it)
        self.image_factor = 1.0 if cfg.version == 3 else 0.5

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(..., H, W, 3) uint8 -> (..., C, S, S) float in [-0.5, 0.5] (grayscale for V2; S =
        ``image_size``, area-resized when smaller than the frames)."""
        x = area_resize(frames.movedim(-1, -3).float().div_(255.0), self.cfg.image_size)
        if self.channels == 1:
            w = torch.tensor([0.299, 0.587, 0.114], device=x.device).reshape(3, 1, 1)
            x = (x * w).sum(-3, keepdim=True)
        return x.sub_(0.5)

    def loss(
        self,
        images: torch.Tensor,
        prev_action: torch.Tensor,
        reward: torch.Tensor,
        terminal: torch.Tensor,
        is_first: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """World-model loss on a (B, T) batch; ``images`` already preprocessed.

        reward[:, t] is the reward received on arriving at obs t and terminal[:, t] says obs t
        ends the episode (Dreamer's step layout). Returns (loss, metrics, posterior).
        """
        cfg = self.cfg
        embed = self.encoder(images)
        post, prior = self.rssm.observe(embed, prev_action, is_first, generator=generator)
        kl, kl_metrics = kl_loss(self.rssm, post["stats"], prior, cfg)
        feat = self.rssm.features(post)
        recon = self.decoder(feat)
        image = self.image_factor * (recon - images).pow(2).sum((-3, -2, -1))
        if cfg.reward_transform == "tanh":
            reward = torch.tanh(reward)
        rew = self.reward.nll(self.reward(feat), reward)
        cont = ContinueHead.nll(self.cont(feat), 1.0 - terminal)
        image_l, rew_l, cont_l = image.mean(), rew.mean(), cont.mean()
        loss = cfg.image_scale * image_l + cfg.reward_scale * rew_l + cfg.cont_scale * cont_l + kl
        metrics = {
            "wm/loss": loss, "wm/image": image_l, "wm/reward": rew_l, "wm/cont": cont_l,
            "wm/kl_loss": kl, **{f"wm/{k}": v for k, v in kl_metrics.items()},
        }  # fmt: skip
        return loss, metrics, post
