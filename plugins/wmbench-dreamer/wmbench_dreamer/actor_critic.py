"""Actor-critic learning in imagination (all three Dreamers).

From every posterior state of the replayed batch, the world model is rolled out ``horizon``
steps with actions sampled from the actor. λ-returns are computed from predicted rewards,
continue flags and critic values; the critic regresses them and the actor maximises them:

* REINFORCE (V2/V3, discrete actions): -log pi(a|s) * sg(R - v(s)) / S - eta * H[pi]
  where S = max(1, EMA(P95(R) - P5(R))) in V3 (percentile return normalisation), S = 1 in V2;
* dynamics backprop (V1): -R, differentiated through the learned dynamics with
  straight-through one-hot actions.

Losses are weighted by the cumulative predicted continue probability (states after a predicted
episode end do not count). Each version indexes the returns as its code does (``return_layout``):
V3 scores state t with the reward and continue predicted for t+1; V2 with those of state t itself;
V1 likewise, over the states imagined after the start only. The critic of V3 is also pulled
toward an EMA "slow" copy of itself; V2 bootstraps its returns from a target critic copied every
100 updates.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from wmbench_core.learning.returns import lambda_returns
from wmbench_dreamer.configs import DreamerConfig
from wmbench_dreamer.distributions import sample_index, straight_through
from wmbench_dreamer.heads import Actor, ScalarHead
from wmbench_dreamer.onehot_input import OneHotInput
from wmbench_dreamer.world_model import WorldModel


class ReturnNormalizer(nn.Module):
    """DreamerV3's percentile scale: S = EMA of (P_high - P_low) of the λ-returns, and the
    advantage is divided by max(1 / max_, S) = max(1, S). EMAs start at 0 (as in the code)."""

    def __init__(self, decay: float, low: float, high: float, max_: float) -> None:
        super().__init__()
        self.decay, self.q_low, self.q_high, self.max = decay, low / 100.0, high / 100.0, max_
        self.register_buffer("low", torch.zeros(()))
        self.register_buffer("high", torch.zeros(()))

    @torch.no_grad()
    def update(self, returns: torch.Tensor) -> torch.Tensor:
        flat = returns.detach().float().flatten()
        q = torch.quantile(flat, torch.tensor([self.q_low, self.q_high], device=flat.device))
        self.low.mul_(self.decay).add_((1.0 - self.decay) * q[0])
        self.high.mul_(self.decay).add_((1.0 - self.decay) * q[1])
        return self.scale()

    def scale(self) -> torch.Tensor:
        return torch.clamp(self.high - self.low, min=1.0 / self.max)


class ActorCritic(nn.Module):
    def __init__(self, cfg: DreamerConfig, feat_dim: int, num_actions: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.actor = Actor(
            feat_dim, num_actions, cfg.actor_layers, cfg.head_units, cfg.head_act, cfg.norm,
            cfg.actor_unimix,
        )  # fmt: skip
        self.critic = ScalarHead(
            feat_dim, cfg.critic_layers, cfg.head_units, cfg.head_act, cfg.norm, cfg.critic_head,
            cfg.twohot_bins, cfg.twohot_low, cfg.twohot_high,
        )  # fmt: skip
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.return_norm = ReturnNormalizer(
            cfg.return_norm_decay, cfg.return_norm_low, cfg.return_norm_high, cfg.return_norm_max
        )
        if cfg.actor_grad not in ("reinforce", "dynamics"):
            raise ValueError(f"unknown actor_grad {cfg.actor_grad!r}; valid: reinforce, dynamics")
        if cfg.critic_target not in ("fast", "slow"):
            raise ValueError(f"unknown critic_target {cfg.critic_target!r}; valid: fast, slow")
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------------------------------
    def imagine(
        self,
        wm: WorldModel,
        start: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor | OneHotInput, torch.Tensor, torch.Tensor]:
        """Roll out ``horizon`` steps from ``start`` (N states). Returns features (H+1, N, F),
        the actions taken at states 0..H-1 (H, N, A) and their log-probs (H, N, A)."""
        dynamics = self.cfg.actor_grad == "dynamics"
        if not dynamics and wm.rssm.discrete:
            return self._imagine_classes(wm, start, generator)
        state = {"deter": start["deter"], "stoch": start["stoch"]}
        feats = [wm.rssm.features(state)]
        actions, logps = [], []
        for _ in range(self.cfg.horizon):
            # every version's policy reads sg(features) [V1 `imagine_ahead`, V2, V3]: with
            # dynamics backprop the gradient reaches the states through the actions only
            logp = self.actor(feats[-1].detach())
            action = self.actor.sample(logp, generator)
            if dynamics:
                action = straight_through(action, logp)
                state = wm.rssm.img_step(state, action, generator)
            else:
                with torch.no_grad():
                    state = wm.rssm.img_step(state, action, generator)
            feats.append(wm.rssm.features(state))
            actions.append(action)
            logps.append(logp)
        return torch.stack(feats), torch.stack(actions), torch.stack(logps)

    def _imagine_classes(
        self,
        wm: WorldModel,
        start: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
    ) -> tuple[OneHotInput, torch.Tensor, torch.Tensor]:
        """:meth:`imagine` for REINFORCE with categorical latents (V2/V3): no gradient flows
        through the states, so they are kept as class indices and the features returned are a
        :class:`OneHotInput` (same values; the heads' first layers gather instead of multiply).
        Same random numbers, drawn in the same order, as the dense rollout."""
        rssm = wm.rssm
        deter = start["deter"]
        # the posterior's straight-through samples are one-hot in value
        classes = start["stoch"].reshape(-1, rssm.stoch, rssm.classes).argmax(-1)
        feats = [rssm.features_of_classes(deter, classes)]
        actions, logps = [], []
        for _ in range(self.cfg.horizon):
            logp = self.actor(feats[-1])  # the actor's graph is kept for its loss
            action = sample_index(logp, generator)
            with torch.no_grad():
                deter, classes = rssm.img_step_classes(deter, classes, action, generator)
            feats.append(rssm.features_of_classes(deter, classes))
            actions.append(F.one_hot(action, logp.shape[-1]).to(logp.dtype))
            logps.append(logp)
        return OneHotInput.stack(feats), torch.stack(actions), torch.stack(logps)

    def loss(
        self,
        wm: WorldModel,
        start: dict[str, torch.Tensor],
        start_cont: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Actor and critic losses from imagined rollouts (see the module docstring).

        For V1 (``dynamics``) the actor loss is differentiated through the world model and the
        critic, which are frozen meanwhile so that only the actor receives that gradient."""
        cfg = self.cfg
        dynamics = cfg.actor_grad == "dynamics"
        if dynamics:
            wm.requires_grad_(False)
            self.critic.requires_grad_(False)
        try:
            feats, actions, logps = self.imagine(wm, start, generator)
            if cfg.return_layout == "state":
                return self._losses_state_layout(wm, feats, actions, logps, start_cont)
            if cfg.return_layout == "state_after_start":
                return self._losses_after_start(wm, feats, logps)
            return self._losses(wm, feats, actions, logps, start_cont)
        finally:
            if dynamics:
                wm.requires_grad_(True)
                self.critic.requires_grad_(True)

    def _losses(
        self,
        wm: WorldModel,
        feats: torch.Tensor | OneHotInput,
        actions: torch.Tensor,
        logps: torch.Tensor,
        start_cont: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.cfg
        dynamics = cfg.actor_grad == "dynamics"
        grad_ctx = torch.enable_grad() if dynamics else torch.no_grad()
        with grad_ctx:
            reward = wm.reward.mean(wm.reward(feats[1:]))
            cont_prob = torch.sigmoid(wm.cont(feats[1:]))
            # V3 takes the Bernoulli's mode; V1/V2 use its mean as a soft discount
            cont = (cont_prob > 0.5).to(feats.dtype) if cfg.version == 3 else cont_prob
            cont = torch.cat([start_cont.unsqueeze(0).to(feats.dtype), cont], 0)
            discount = cfg.gamma * cont[1:]
            weight = (torch.cumprod(cfg.gamma * cont, 0) / cfg.gamma).detach()
        # the critic's loss covers states 0..H-1: its output at the last state is needed only as
        # the bootstrap value of a "fast" target
        fast_target = cfg.critic_target == "fast"
        if dynamics:
            values = self.critic.mean(self.critic(feats))
            critic_raw = None
        else:
            critic_raw = self.critic((feats if fast_target else feats[:-1]).detach())
            with torch.no_grad():
                if not fast_target:
                    values = slow_values = self.slow_critic.mean(self.slow_critic(feats))
                else:
                    values = self.critic.mean(critic_raw)
        returns = lambda_returns(reward, values, discount, cfg.lambda_)  # (H, N)
        scale = self._return_scale(returns)
        entropy = self.actor.entropy(logps)  # (H, N)
        if dynamics:
            objective = returns / scale
        else:
            adv = ((returns - values[:-1]) / scale).detach()
            objective = (logps * actions.detach()).sum(-1) * adv
        actor_loss = -((objective + cfg.entropy * entropy) * weight[:-1]).mean()
        # critic: regress the λ-returns (and the slow critic's prediction, V3)
        if critic_raw is None:
            self.critic.requires_grad_(True)
            critic_raw = self.critic(feats[:-1].detach())
        raw = critic_raw[: returns.shape[0]]
        # with a slow target, the values the λ-returns bootstrapped from (computed once)
        slow = slow_values[:-1] if not dynamics and cfg.critic_target == "slow" else None
        critic_nll = self._critic_nll(raw, returns, feats[:-1], slow)
        critic_loss = (critic_nll * weight[:-1]).mean()
        return actor_loss, critic_loss, _metrics(actor_loss, critic_loss, entropy, returns, scale, reward)

    def _losses_state_layout(
        self,
        wm: WorldModel,
        feats: torch.Tensor | OneHotInput,
        actions: torch.Tensor,
        logps: torch.Tensor,
        start_cont: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """:meth:`_losses` with DreamerV2's indexing (its ``ActorCritic.actor_loss`` and
        ``critic_loss``), REINFORCE only. Reward r_t and discount d_t = gamma * continue are
        those predicted for state t itself (d_0 from the start state's terminal flag), so

            T_t = r_t + d_t ((1 - λ) v_{t+1} + λ T_{t+1}),   t = 0..H-1,  T_H = v_H,

        the action taken at state t is scored by T_{t+1} - v_t (H - 1 actions trained: the last
        one leads to the bootstrap state), the critic regresses T_0..T_{H-1}, and the weights
        are w_0 = 1, w_t = d_0 ... d_{t-1}."""
        cfg = self.cfg
        with torch.no_grad():
            reward = wm.reward.mean(wm.reward(feats))  # (H+1, N)
            cont = torch.sigmoid(wm.cont(feats))
            cont = torch.cat([start_cont.unsqueeze(0).to(cont.dtype), cont[1:]], 0)
            disc = cfg.gamma * cont
            weight = torch.cumprod(torch.cat([torch.ones_like(disc[:1]), disc[:-1]], 0), 0)
        fast_target = cfg.critic_target == "fast"
        critic_raw = self.critic((feats if fast_target else feats[:-1]).detach())
        with torch.no_grad():
            if fast_target:
                values = self.critic.mean(critic_raw)
            else:
                values = self.slow_critic.mean(self.slow_critic(feats))
        returns = lambda_returns(reward[:-1], values, disc[:-1], cfg.lambda_)  # T_0..T_{H-1}
        scale = self._return_scale(returns)
        adv = ((returns[1:] - values[:-2]) / scale).detach()
        objective = (logps[:-1] * actions[:-1].detach()).sum(-1) * adv
        entropy = self.actor.entropy(logps[:-1])
        actor_loss = -((objective + cfg.entropy * entropy) * weight[:-2]).mean()
        raw = critic_raw[: returns.shape[0]]
        critic_nll = self._critic_nll(raw, returns, feats[:-1])
        critic_loss = (critic_nll * weight[:-1]).mean()
        return actor_loss, critic_loss, _metrics(actor_loss, critic_loss, entropy, returns, scale, reward)

    def _losses_after_start(
        self,
        wm: WorldModel,
        feats: torch.Tensor,
        logps: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """:meth:`_losses` with DreamerV1's indexing (its ``Dreamer._train``), dynamics backprop
        only. Only the H states imagined after the start count: with r_t, the discount
        d_t = gamma * continue and v_t predicted for state t itself,

            T_t = r_t + d_t ((1 - λ) v_{t+1} + λ T_{t+1}),   t = 1..H-1,  T_H = v_H,

        the actor maximises the weighted mean of T_1..T_{H-1} (weights w_1 = 1,
        w_t = d_1 ... d_{t-1}), differentiated through rewards, discounts, values and the
        dynamics, and the critic regresses v_1..v_{H-1} to them. The start state is not scored."""
        cfg = self.cfg
        imagined = feats[1:]  # s_1..s_H
        reward = wm.reward.mean(wm.reward(imagined))  # (H, N)
        disc = cfg.gamma * torch.sigmoid(wm.cont(imagined))
        values = self.critic.mean(self.critic(imagined))
        returns = lambda_returns(reward[:-1], values, disc[:-1], cfg.lambda_)  # T_1..T_{H-1}
        weight = torch.cumprod(torch.cat([torch.ones_like(disc[:1]), disc[:-2]], 0), 0).detach()
        scale = self._return_scale(returns)
        entropy = self.actor.entropy(logps[1:])  # the policy at s_1..s_{H-1}
        actor_loss = -((returns / scale + cfg.entropy * entropy) * weight).mean()
        self.critic.requires_grad_(True)  # frozen for the actor's gradient, trained here
        raw = self.critic(imagined[:-1].detach())
        critic_nll = self._critic_nll(raw, returns, imagined[:-1])
        critic_loss = (critic_nll * weight).mean()
        return actor_loss, critic_loss, _metrics(actor_loss, critic_loss, entropy, returns, scale, reward)

    def _critic_nll(
        self,
        raw: torch.Tensor,
        returns: torch.Tensor,
        states: torch.Tensor | OneHotInput,
        slow: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-state critic loss: the NLL of the λ-returns, plus (V3) the regulariser toward the
        slow critic's values at ``states`` (or ``slow``, when already computed)."""
        nll = self.critic.nll(raw, returns.detach())
        if self.cfg.slowreg_scale > 0:
            if slow is None:
                with torch.no_grad():
                    slow = self.slow_critic.mean(self.slow_critic(states.detach()))
            nll = nll + self.cfg.slowreg_scale * self.critic.nll(raw, slow)
        return nll

    def _return_scale(self, returns: torch.Tensor) -> torch.Tensor:
        """The advantages' divisor: V3's percentile scale (updated with these returns) or 1."""
        if self.cfg.return_norm == "percentile":
            return self.return_norm.update(returns)
        if self.cfg.return_norm == "none":
            return torch.ones((), device=returns.device)
        raise ValueError(f"unknown return_norm {self.cfg.return_norm!r}; valid: percentile, none")

    @torch.no_grad()
    def update_slow_critic(self) -> None:
        """EMA (V3: fraction 0.02 every update) or hard copy (V2: every 100 updates); V1 has no
        slow critic (fast target, no regulariser), so nothing is copied."""
        self.updates += 1
        if int(self.updates) % self.cfg.slow_critic_every:
            return
        if self.cfg.critic_target == "fast" and self.cfg.slowreg_scale == 0:
            return
        f = self.cfg.slow_critic_fraction
        for slow, fast in zip(self.slow_critic.parameters(), self.critic.parameters()):
            slow.mul_(1.0 - f).add_(fast, alpha=f)


def _metrics(actor_loss: torch.Tensor, critic_loss: torch.Tensor, entropy: torch.Tensor, returns: torch.Tensor,
             scale: torch.Tensor, reward: torch.Tensor) -> dict[str, torch.Tensor]:  # fmt: skip
    return {
        "ac/actor_loss": actor_loss.detach(), "ac/critic_loss": critic_loss.detach(),
        "ac/entropy": entropy.mean().detach(), "ac/return": returns.mean().detach(),
        "ac/return_scale": scale.detach(), "ac/imag_reward": reward.mean().detach(),
    }  # fmt: skip
