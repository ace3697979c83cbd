"""The Recurrent State-Space Model (Hafner et al. 2019) shared by DreamerV1/V2/V3.

State at step t: a deterministic GRU state ``deter`` h_t and a stochastic state ``stoch`` z_t.

    prior      h_t = GRU(h_{t-1}, MLP([z_{t-1}, a_{t-1}])),  z_t ~ p(z_t | h_t)
    posterior  z_t ~ q(z_t | h_t, e_t)                        (e_t: the image embedding)

Latents are either 32 categoricals of 32 classes with straight-through samples (V2/V3, with
optional unimix) or a diagonal Gaussian (V1). ``stats`` are the distribution parameters: the
log-probabilities (..., S, K) or the concatenated (mean, std).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.learning.linear import Linear
from wmbench_dreamer.configs import DreamerConfig
from wmbench_dreamer.distributions import (
    categorical_kl,
    gaussian_kl,
    sample_index,
    sample_onehot,
    straight_through,
    unimix_logits,
)
from wmbench_dreamer.networks import LN_EPS, MLP, NormGRUCell, PlainGRUCell, activation
from wmbench_dreamer.onehot_input import OneHotInput
from wmbench_dreamer.recurrent_linear import RecurrentLinear, sequence_weight_grads

State = dict[str, torch.Tensor]


class RSSM(nn.Module):
    def __init__(self, cfg: DreamerConfig, embed_dim: int, num_actions: int) -> None:
        super().__init__()
        self.discrete = cfg.classes > 0
        self.stoch, self.classes, self.deter = cfg.stoch, cfg.classes, cfg.deter
        self.stoch_dim = cfg.stoch * cfg.classes if self.discrete else cfg.stoch
        self.stats_dim = self.stoch_dim if self.discrete else 2 * cfg.stoch
        self.unimix = cfg.unimix
        self.min_std = cfg.min_std
        self.num_actions = num_actions
        # prior path: [z, a] -> hidden -> GRU -> hidden -> prior stats. Layers applied at every
        # step of observe's loop are RecurrentLinear (one weight gradient per sequence).
        self.img_in = MLP(self.stoch_dim + num_actions, 1, cfg.hidden, cfg.act, cfg.norm, RecurrentLinear)
        if cfg.gru == "norm":
            self.gru: nn.Module = NormGRUCell(cfg.hidden, cfg.deter, norm=True)
        elif cfg.gru == "plain":
            self.gru = PlainGRUCell(cfg.hidden, cfg.deter)
        else:
            raise ValueError(f"unknown gru {cfg.gru!r}; valid: norm, plain")
        self.img_out = MLP(cfg.deter, 1, cfg.hidden, cfg.act, cfg.norm)
        self.prior_stats = Linear(cfg.hidden, self.stats_dim)
        # posterior path: [h, e] -> hidden -> posterior stats. The layer is split in two so
        # that the embedding part runs once over the whole sequence, outside the time loop.
        self.obs_deter = RecurrentLinear(cfg.deter, cfg.hidden, bias=not cfg.norm)
        self.obs_embed = Linear(embed_dim, cfg.hidden, bias=False)
        self.obs_norm = nn.LayerNorm(cfg.hidden, eps=LN_EPS) if cfg.norm else nn.Identity()
        self.obs_act = activation(cfg.act)
        self.post_stats = RecurrentLinear(cfg.hidden, self.stats_dim)
        self.learned_init = cfg.initial_state == "learned"
        if self.learned_init:
            self.init_deter = nn.Parameter(torch.zeros(cfg.deter))
        elif cfg.initial_state != "zeros":
            raise ValueError(f"unknown initial_state {cfg.initial_state!r}; valid: learned, zeros")

    # -- distributions -------------------------------------------------------------------------
    def dist_stats(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw layer output -> distribution parameters (log-probs or [mean, std])."""
        if self.discrete:
            logits = raw.reshape(*raw.shape[:-1], self.stoch, self.classes)
            return unimix_logits(logits, self.unimix)
        mean, std = raw.chunk(2, dim=-1)
        return torch.cat([mean, F.softplus(std) + self.min_std], dim=-1)

    def sample(self, stats: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A differentiable sample, flattened to (..., stoch_dim)."""
        if self.discrete:
            onehot = straight_through(sample_onehot(stats, generator), stats)
            return onehot.flatten(-2)
        mean, std = stats.chunk(2, dim=-1)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return mean + std * eps

    def mode(self, stats: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            idx = stats.argmax(-1)
            return F.one_hot(idx, self.classes).to(stats.dtype).flatten(-2)
        return stats.chunk(2, dim=-1)[0]

    def kl(self, stats_p: torch.Tensor, stats_q: torch.Tensor) -> torch.Tensor:
        """KL(p || q) per sample (summed over latents)."""
        if self.discrete:
            return categorical_kl(stats_p, stats_q)
        mp, sp = stats_p.chunk(2, dim=-1)
        mq, sq = stats_q.chunk(2, dim=-1)
        return gaussian_kl(mp, sp, mq, sq)

    # -- states --------------------------------------------------------------------------------
    def initial(self, batch: int, device: torch.device | str = "cpu") -> State:
        """The state before the first step of an episode: h = tanh(learned) (V3) or zeros, and
        z = the prior's mode at that h (V3) or zeros."""
        if self.learned_init:
            deter = torch.tanh(self.init_deter).expand(batch, -1)
            stoch = self.mode(self.dist_stats(self.prior_stats(self.img_out(deter))))
            return {"deter": deter, "stoch": stoch}
        return {
            "deter": torch.zeros(batch, self.deter, device=device),
            "stoch": torch.zeros(batch, self.stoch_dim, device=device),
        }

    def reset_where(self, state: State, action: torch.Tensor, is_first: torch.Tensor, any_first: bool | None = None):
        """Replace state and previous action by the initial ones where ``is_first``
        (``any_first``: whether any is, when the caller knows; asking a GPU tensor waits for it)."""
        state = {"deter": state["deter"], "stoch": state["stoch"]}
        if not (bool(is_first.any()) if any_first is None else any_first):
            return state, action
        init = self.initial(is_first.shape[0], is_first.device)
        m = is_first.to(action.dtype).unsqueeze(-1)
        state = {k: v * (1.0 - m) + init[k] * m for k, v in state.items()}
        return state, action * (1.0 - m)

    @staticmethod
    def features(state: State) -> torch.Tensor:
        return torch.cat([state["stoch"], state["deter"]], dim=-1)

    # -- one step ------------------------------------------------------------------------------
    def img_step(
        self,
        state: State,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> State:
        """Prior step: (h_{t-1}, z_{t-1}, a_{t-1}) -> (h_t, z_t ~ p)."""
        deter = self._deter(state, action)
        stats = self.dist_stats(self.prior_stats(self.img_out(deter)))
        stoch = self.sample(stats, generator)
        return {"deter": deter, "stoch": stoch, "stats": stats}

    def img_step_classes(
        self,
        deter: torch.Tensor,
        stoch_classes: torch.Tensor,
        action: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`img_step` of a discrete RSSM with z and a given as class indices (N, S) and
        (N,), for imagination without gradients: the input layer gathers weight columns
        (:mod:`.onehot_input`). Returns h_t and the classes of z_t ~ p(z_t | h_t)."""
        z = OneHotInput.from_groups(stoch_classes, self.classes)
        columns = torch.cat([z.columns, self.stoch_dim + action.unsqueeze(-1)], -1)
        x = self.img_in(OneHotInput(columns, None, self.stoch_dim + self.num_actions))
        deter = self.gru(x, deter)
        return deter, sample_index(self.prior_of(deter), generator)

    def features_of_classes(self, deter: torch.Tensor, stoch_classes: torch.Tensor) -> OneHotInput:
        """:meth:`features` of a state whose z is given as class indices."""
        return OneHotInput.from_groups(stoch_classes, self.classes, dense=deter)

    def _deter(self, state: State, action: torch.Tensor) -> torch.Tensor:
        x = self.img_in(torch.cat([state["stoch"], action], dim=-1))
        return self.gru(x, state["deter"])

    def obs_step(
        self,
        state: State,
        action: torch.Tensor,
        embed_proj: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> State:
        """Posterior step; ``embed_proj`` is ``obs_embed(embedding)``. The prior's stats are not
        computed here (see :meth:`prior_of`): the loss needs them, acting does not."""
        deter = self._deter(state, action)
        x = self.obs_act(self.obs_norm(self.obs_deter(deter) + embed_proj))
        stats = self.dist_stats(self.post_stats(x))
        return {"deter": deter, "stoch": self.sample(stats, generator), "stats": stats}

    def prior_of(self, deter: torch.Tensor) -> torch.Tensor:
        """Prior stats for deterministic states of any leading shape (batched after the loop)."""
        return self.dist_stats(self.prior_stats(self.img_out(deter)))

    # -- sequences -----------------------------------------------------------------------------
    def observe(
        self,
        embed: torch.Tensor,
        prev_action: torch.Tensor,
        is_first: torch.Tensor,
        state: State | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Filter a (B, T) sequence. ``prev_action[:, t]`` is a_{t-1} (one-hot). Returns the
        posterior {deter, stoch, stats} stacked on dim 1 and the prior stats (B, T, ...)."""
        batch, steps = embed.shape[:2]
        if state is None:
            state = self.initial(batch, embed.device)
        # unbind, not embed_proj[:, t]: each indexing's backward writes a full-size gradient
        embed_proj = self.obs_embed(embed).unbind(1)
        deters, stochs, stats = [], [], []
        any_first = is_first.any(0).tolist()  # one device sync for the sequence, not one per step
        with sequence_weight_grads(self):
            for t in range(steps):
                state, action = self.reset_where(state, prev_action[:, t], is_first[:, t], any_first[t])
                state = self.obs_step(state, action, embed_proj[t], generator)
                deters.append(state["deter"])
                stochs.append(state["stoch"])
                stats.append(state["stats"])
        post = {
            "deter": torch.stack(deters, 1),
            "stoch": torch.stack(stochs, 1),
            "stats": torch.stack(stats, 1),
        }
        return post, self.prior_of(post["deter"])
