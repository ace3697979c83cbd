"""The world model as a batched gymnasium-style env, and the loop that drives any such env.

:class:`WorldModelEnv` and :class:`RealEnv` share one interface (torch tensors, batch first)::

    obs, info = env.reset()                      # obs (N, C, S, S) in [-1, 1]
    obs, rew, end, trunc, info = env.step(act)   # act (N,) long

Rows that end are reset inside ``step`` (their ``obs`` is already the next episode's first
frame; the frame that ended it is ``info["final_observation"]``), and ``info["reset"]`` marks
them. The world model starts an episode from 4 real frames; ``info["burnin_obs"]`` holds the 3
before the first one so the policy's LSTM can be burned in on them. :func:`env_loop` runs a
policy on either env: the same code collects real data and imagines rollouts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wmbench_diamond.actor_critic import ActorCritic, sample_actions
from wmbench_diamond.reward_end_model import LSTMState, RewEndModel
from wmbench_diamond.sampler import DiffusionSampler

#: f(n) -> (frames (n, L, C, S, S) in [-1, 1], actions (n, L)): real initial conditions
ContextFn = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


class WorldModelEnv:
    """N imagined episodes: frames from the diffusion sampler, rewards/ends sampled from R_ψ."""

    def __init__(
        self,
        sampler: DiffusionSampler,
        rew_end_model: RewEndModel,
        context_fn: ContextFn,
        num_envs: int,
        horizon: int,
        generator: torch.Generator | None = None,
    ) -> None:
        self.sampler = sampler
        self.rew_end_model = rew_end_model
        self.context_fn = context_fn
        self.num_envs = num_envs
        self.horizon = horizon
        self.generator = generator
        self.obs_buf: torch.Tensor | None = None  # (N, L, C, S, S)
        self.act_buf: torch.Tensor | None = None  # (N, L); the last slot is the action to take
        self.rew_end_state: LSTMState | None = None
        self.t = torch.zeros(num_envs, dtype=torch.long)

    @torch.no_grad()
    def _contexts(self, n: int) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        obs, act = self.context_fn(n)
        state = self.rew_end_model.initial_state(n, obs.device)
        # burn in R_ψ on the L - 1 real transitions of the context
        _, _, state = self.rew_end_model(obs[:, :-1], act[:, :-1], obs[:, 1:], state)
        return obs, act.clone(), state

    @torch.no_grad()
    def reset(self) -> tuple[torch.Tensor, dict[str, Any]]:
        self.obs_buf, self.act_buf, self.rew_end_state = self._contexts(self.num_envs)
        self.t = torch.zeros(self.num_envs, dtype=torch.long, device=self.obs_buf.device)
        return self.obs_buf[:, -1], {"burnin_obs": self.obs_buf[:, :-1]}

    @torch.no_grad()
    def step(self, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        assert self.obs_buf is not None and self.act_buf is not None and self.rew_end_state is not None
        self.act_buf[:, -1] = act
        next_obs = self.sampler.sample(self.obs_buf, self.act_buf, self.generator)
        rew, end, self.rew_end_state = self.rew_end_model.predict_rew_end(
            self.obs_buf[:, -1], act, next_obs, self.rew_end_state, self.generator
        )
        self.obs_buf = torch.cat([self.obs_buf[:, 1:], next_obs[:, None]], dim=1)
        self.act_buf = torch.cat([self.act_buf[:, 1:], torch.zeros_like(self.act_buf[:, :1])], dim=1)
        self.t += 1
        trunc = (self.t >= self.horizon) & ~end
        info: dict[str, Any] = {"final_observation": next_obs, "reset": end.clone()}
        obs = next_obs
        if end.any():  # re-seed ended rows from fresh real contexts
            idx = end.nonzero()[:, 0]
            c_obs, c_act, (h, c) = self._contexts(len(idx))
            self.obs_buf[idx], self.act_buf[idx] = c_obs, c_act
            self.rew_end_state[0][idx], self.rew_end_state[1][idx] = h, c
            self.t[idx] = 0
            obs = self.obs_buf[:, -1].clone()
            burn = self.obs_buf[:, :-1].clone()
            info["burnin_obs"] = burn
        return obs, rew, end, trunc, info


class RealEnv:
    """Real gymnasium envs behind the same tensor interface (immediate autoreset).

    With ``done_on_life_loss`` a lost life ends the episode for learning (``end`` True, policy
    state reset) without resetting the game, like the reference's training env.
    """

    def __init__(
        self, envs: list[Any], to_tensor: Callable[[np.ndarray], torch.Tensor], seed: int,
        done_on_life_loss: bool,
    ) -> None:
        self.envs = envs
        self.to_tensor = to_tensor
        self.seed = seed
        self.done_on_life_loss = done_on_life_loss
        self.frames: np.ndarray | None = None  # current raw frames (N, H, W, 3) uint8
        self._resets = 0

    @property
    def num_envs(self) -> int:
        return len(self.envs)

    def reset(self) -> tuple[torch.Tensor, dict[str, Any]]:
        frames = []
        for i, e in enumerate(self.envs):
            frames.append(e.reset(seed=self.seed + 1000 * i + self._resets)[0])
        self._resets += 1
        self.frames = np.stack(frames)
        return self.to_tensor(self.frames), {}

    def step(self, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        n = self.num_envs
        rew, end, trunc = np.zeros(n, np.float32), np.zeros(n, bool), np.zeros(n, bool)
        prev = self.frames
        frames, finals = [], []
        for i, (e, a) in enumerate(zip(self.envs, act.tolist())):
            o, r, term, tr, info = e.step(a)
            rew[i] = r
            life = bool(info.get("life_loss", False)) and self.done_on_life_loss
            end[i] = term or life
            trunc[i] = tr and not end[i]
            finals.append(o)
            if term or tr:
                o, _ = e.reset()
            frames.append(o)
        self.frames = np.stack(frames)
        info = {"prev_frames": prev, "final_observation": np.stack(finals), "reset": torch.as_tensor(end | trunc)}
        return (
            self.to_tensor(self.frames), torch.as_tensor(rew), torch.as_tensor(end), torch.as_tensor(trunc), info,
        )


def env_loop(
    env: WorldModelEnv | RealEnv,
    actor_critic: ActorCritic,
    obs: torch.Tensor,
    state: LSTMState,
    num_steps: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    epsilon: float = 0.0,
    on_step: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]], None] | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, LSTMState]:
    """Run the policy for ``num_steps`` on ``env``; grads flow through the actor-critic when
    enabled by the caller. Returns the trajectory (logits (T,B,A), values (T+1,B) with the
    bootstrap value of the last observation, act/rew/end/trunc (T,B)) and the loop's (obs, state).
    """
    logits_l, values_l, act_l, rew_l, end_l, trunc_l = [], [], [], [], [], []
    for _ in range(num_steps):
        logits, value, state = actor_critic(obs, state)
        act = sample_actions(logits.detach(), generator, temperature, epsilon)
        obs, rew, end, trunc, info = env.step(act)
        if on_step is not None:
            on_step(act, rew, end, trunc, info)
        logits_l.append(logits)
        values_l.append(value)
        act_l.append(act)
        rew_l.append(rew)
        end_l.append(end)
        trunc_l.append(trunc)
        dead = info["reset"].to(obs.device)
        if dead.any():  # a new episode: fresh LSTM state, burned in on its context if any
            keep = (~dead).float()[:, None]
            state = (state[0] * keep, state[1] * keep)
            if "burnin_obs" in info:
                idx = dead.nonzero()[:, 0]
                h, c = actor_critic.burn_in(info["burnin_obs"][idx], (state[0][idx], state[1][idx]))
                state = (state[0].index_put((idx,), h), state[1].index_put((idx,), c))
    with torch.no_grad():
        _, last_value, _ = actor_critic(obs, state)
    traj = {
        "logits": torch.stack(logits_l),
        "values": torch.stack([*values_l, last_value]),
        "act": torch.stack(act_l),
        "rew": torch.stack(rew_l),
        "end": torch.stack(end_l),
        "trunc": torch.stack(trunc_l),
    }
    return traj, obs, state


def imagine(
    wm_env: WorldModelEnv, actor_critic: ActorCritic, generator: torch.Generator | None = None
) -> dict[str, torch.Tensor]:
    """Fresh contexts for every row, burn-in, then ``horizon`` imagined steps."""
    obs, info = wm_env.reset()
    state = actor_critic.initial_state(wm_env.num_envs, obs.device)
    state = actor_critic.burn_in(info["burnin_obs"], state)
    traj, _, _ = env_loop(wm_env, actor_critic, obs, state, wm_env.horizon, generator)
    return traj


@torch.no_grad()
def save_imagined_rollout(
    wm_env: WorldModelEnv,
    actor_critic: ActorCritic,
    path: str | Path,
    num_steps: int = 30,
    generator: torch.Generator | None = None,
    fps: int = 8,
) -> Path:
    """Play the policy in the world model (first row) and save the frames: a GIF through
    matplotlib's PillowWriter when Pillow is installed, else a folder of PNGs. The first
    frames shown are the real context."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obs, info = wm_env.reset()
    state = actor_critic.burn_in(info["burnin_obs"], actor_critic.initial_state(wm_env.num_envs, obs.device))
    frames = [*info["burnin_obs"][0].unbind(0), obs[0]]

    def record(act: torch.Tensor, rew: torch.Tensor, end: torch.Tensor, trunc: torch.Tensor, info: dict) -> None:
        frames.append(info["final_observation"][0])

    horizon = wm_env.horizon
    wm_env.horizon = num_steps + 1  # no truncation inside the clip
    try:
        env_loop(wm_env, actor_critic, obs, state, num_steps, generator, on_step=record)
    finally:
        wm_env.horizon = horizon
    images = [((f.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy() for f in frames]
    return write_frames(images, path, fps)


def write_frames(images: list[np.ndarray], path: Path, fps: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        import PIL  # noqa: F401

        have_pillow = True
    except ImportError:
        have_pillow = False
    if have_pillow:
        from matplotlib.animation import FuncAnimation, PillowWriter

        fig, ax = plt.subplots(figsize=(2, 2), dpi=64)
        ax.axis("off")
        fig.subplots_adjust(0, 0, 1, 1)
        im = ax.imshow(images[0], interpolation="nearest")
        anim = FuncAnimation(fig, lambda i: [im.set_data(images[i])], frames=len(images))
        out = path.with_suffix(".gif")
        anim.save(out, writer=PillowWriter(fps=fps))
        plt.close(fig)
        return out
    out = path.with_suffix("")
    out.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        plt.imsave(out / f"frame_{i:04d}.png", img)
    return out
