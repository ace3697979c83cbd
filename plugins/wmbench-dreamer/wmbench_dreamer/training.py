"""One training update of a Dreamer (world model, then actor-critic in imagination) and the
replay layout it reads.

Replay layout (Dreamer's step layout, in the core's :class:`ReplayBuffer` fields): row t holds
``obs[t]`` (the frame), ``action[t]`` (the action taken at that frame; 0 at a terminal frame, where
no action is taken), ``reward[t]`` (the reward received on *arriving* at that frame),
``terminated[t]`` (that frame ends the episode: game over), ``truncated[t]`` (time limit) and
``is_first[t]``. Terminal frames are stored so that the continue head learns to predict 0.
A training batch is a window of ``seq_len + 1`` rows of which the last ``seq_len`` are trained
on, each with the previous row's action as a_{t-1}; the first trained row is marked ``is_first``
(the state starts from the RSSM's initial state, as the 2023 code does), which zeroes its a_{t-1},
so the extra row only keeps the layout aligned.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from wmbench_core.learning.optim import fused_adam
from wmbench_core.learning.replay import ReplayBuffer
from wmbench_dreamer.actor_critic import ActorCritic
from wmbench_dreamer.configs import DreamerConfig
from wmbench_dreamer.world_model import WorldModel


class UpdateSchedule:
    """Replay ratio accounting: ``train_ratio`` replayed steps per policy step, i.e.
    train_ratio / (batch * seq_len) updates per policy step, accumulated as fractional credit."""

    def __init__(self, train_ratio: float, batch_size: int, seq_len: int) -> None:
        self.per_step = train_ratio / (batch_size * seq_len)
        self.credit = 0.0

    def step(self) -> int:
        """Call once per policy step (after prefill); returns how many updates are due."""
        self.credit += self.per_step
        due = int(self.credit)
        self.credit -= due
        return due


class Trainer:
    """Optimisers and the update step for a world model and an actor-critic."""

    def __init__(self, cfg: DreamerConfig, wm: WorldModel, ac: ActorCritic, device: torch.device | str) -> None:
        self.cfg, self.wm, self.ac, self.device = cfg, wm, ac, device
        self.wm_opt = self._adam(wm.parameters(), cfg.model_lr, cfg.model_eps)
        self.actor_opt = self._adam(ac.actor.parameters(), cfg.actor_lr, cfg.ac_eps)
        self.critic_opt = self._adam(ac.critic.parameters(), cfg.critic_lr, cfg.ac_eps)
        self.updates = 0

    def _adam(self, params: Any, lr: float, eps: float) -> torch.optim.Optimizer:
        """Adam; with ``weight_decay`` (V2) the decay is decoupled and not scaled by the learning
        rate: V2's ``tfutils.Optimizer`` multiplies every variable by (1 - wd) before each step,
        which is AdamW with weight_decay = wd / lr (AdamW multiplies by 1 - lr * weight_decay)."""
        wd = self.cfg.weight_decay
        if wd > 0:
            return fused_adam(torch.optim.AdamW, params, lr=lr, eps=eps, weight_decay=wd / lr)
        return fused_adam(torch.optim.Adam, params, lr=lr, eps=eps)

    def autocast(self) -> Any:
        if self.cfg.precision == "bfloat16":
            return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def sample(self, replay: ReplayBuffer, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A batch of windows of ``seq_len + 1`` rows, as ``replay_sampling`` says (see the
        config): uniform over stored steps (V3), or the trained rows inside one episode drawn
        uniformly (V1, V2). An in-episode window's leading row only aligns a_{t-1} (zeroed by
        ``is_first``), so it may lie before the episode. Until some episode is longer than
        ``seq_len`` the uniform windows stand in."""
        cfg = self.cfg
        if cfg.replay_sampling != "uniform":
            prioritize_ends = cfg.replay_sampling == "episode_ends"
            starts = replay.episode_window_starts(cfg.batch_size, cfg.seq_len, rng, prioritize_ends)
            if starts is not None:
                positions = starts[:, None] + np.arange(-1, cfg.seq_len)[None, :]
                positions[:, 0] = np.maximum(positions[:, 0], 0)
                return replay.rows(positions)
        return replay.sample_sequences(cfg.batch_size, cfg.seq_len + 1, rng)

    def batch_tensors(self, batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """A sampled window of seq_len + 1 rows -> model inputs for the last seq_len rows."""
        dev = self.device
        obs = torch.as_tensor(batch["obs"][:, 1:], device=dev)
        action = torch.as_tensor(batch["action"][:, :-1], device=dev)
        prev_action = F.one_hot(action, self.wm.rssm.num_actions).float()
        is_first = torch.as_tensor(batch["is_first"][:, 1:], device=dev).clone()
        is_first[:, 0] = True  # windows start from the initial state
        return {
            "images": self.wm.preprocess(obs),
            "prev_action": prev_action,
            "reward": torch.as_tensor(batch["reward"][:, 1:], device=dev).float(),
            "terminal": torch.as_tensor(batch["terminated"][:, 1:], device=dev).float(),
            "is_first": is_first,
        }

    def update(self, replay: ReplayBuffer, rng: np.random.Generator, generator: torch.Generator) -> dict[str, float]:
        cfg = self.cfg
        data = self.batch_tensors(self.sample(replay, rng))
        # -- world model -----------------------------------------------------------------------
        with self.autocast():
            wm_loss, metrics, post = self.wm.loss(
                data["images"], data["prev_action"], data["reward"], data["terminal"],
                data["is_first"], generator,
            )  # fmt: skip
        self.wm_opt.zero_grad(set_to_none=True)
        wm_loss.backward()
        metrics["wm/grad_norm"] = torch.nn.utils.clip_grad_norm_(self.wm.parameters(), cfg.model_clip)
        self.wm_opt.step()
        # -- actor-critic from every posterior state ---------------------------------------------
        start = {
            "deter": post["deter"].detach().reshape(-1, post["deter"].shape[-1]),
            "stoch": post["stoch"].detach().reshape(-1, post["stoch"].shape[-1]),
        }
        start_cont = 1.0 - data["terminal"].reshape(-1)
        with self.autocast():
            actor_loss, critic_loss, ac_metrics = self.ac.loss(self.wm, start, start_cont, generator)
        self.actor_opt.zero_grad(set_to_none=True)
        self.critic_opt.zero_grad(set_to_none=True)
        (actor_loss + critic_loss).backward()
        ac_metrics["ac/actor_grad_norm"] = torch.nn.utils.clip_grad_norm_(self.ac.actor.parameters(), cfg.ac_clip)
        ac_metrics["ac/critic_grad_norm"] = torch.nn.utils.clip_grad_norm_(self.ac.critic.parameters(), cfg.ac_clip)
        self.actor_opt.step()
        self.critic_opt.step()
        self.ac.update_slow_critic()
        self.updates += 1
        metrics.update(ac_metrics)
        return {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in metrics.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "wm_opt": self.wm_opt.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wm_opt.load_state_dict(state["wm_opt"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.updates = int(state["updates"])
