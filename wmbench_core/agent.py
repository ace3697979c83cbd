"""The agent contract: what an :class:`~wmbench_core.AgentSpec` factory returns.

Subclass :class:`Agent` and implement ``act``, ``train``, ``save_checkpoint``,
``load_checkpoint`` and ``describe``; ``evaluate`` comes for free (batched episodes over the
core's vector env, SAME_STEP autoreset).

Construction (always keyword arguments)::

    Agent(env=EnvSpec, preset="atari100k", device="cpu", seed=0, work_dir=Path|None,
          **config_overrides)

* ``env`` — the core's :class:`~wmbench_core.envs.EnvSpec`; build environments with
  ``env.make()`` (training) / ``env.make_vector(n)`` (evaluation; ``training=True`` to train on
  one), never directly, so every agent runs one protocol. Under the runner, training envs log
  each finished episode: the job's learning curve (``train_episodes.csv``), the same for every
  agent at no cost to it.
* ``preset`` — a name from the spec's ``presets``; ``config_overrides`` are ``--set key=value``
  pairs (values already parsed from JSON/literals) applied on top. Reject unknown keys with
  :class:`ConfigError`. ``self.config`` must end up as the resolved, JSON-serialisable config:
  it is recorded in every result.
* ``device`` — ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"auto"``; see
  :func:`wmbench_core.learning.device.resolve_device`.
* ``seed`` — seed everything the agent owns (torch, numpy, envs); the same seed on CPU must
  give the same run.
* ``work_dir`` — a directory of this job for loss curves (``losses.csv``) and periodic
  checkpoints; None means "do not write files".

Observations given to ``act`` are ``(N, H, W, 3)`` uint8 numpy arrays; actions returned are
``(N,)`` integer numpy arrays. ``state`` is whatever the agent needs to carry between steps (an
RNN state, the previous action ...): a tensor/array or a (nested) tuple/list/dict of them with
the batch on dimension 0, so that :meth:`Agent.reset_state` can reset the envs that started a
new episode. Stateless agents use ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from wmbench_core.envs import EnvSpec


class ConfigError(ValueError):
    """A preset or ``--set`` key/value the agent does not accept (shown as one line)."""


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, or not a weights-only wmbench checkpoint."""


class Progress:
    """What an agent's ``train`` reports to (the runner passes a rich progress display).

    ``start(total_env_steps)`` once, ``update(env_steps, metrics)`` as training goes (metrics:
    name -> float, e.g. losses and updates per second), ``log(message)`` for rare events.
    This base class does nothing, so ``progress=None`` can be replaced by ``Progress()``.
    """

    def start(self, total_env_steps: int, description: str = "") -> None: ...

    def update(self, env_steps: int, metrics: dict[str, float] | None = None) -> None: ...

    def log(self, message: str) -> None: ...

    def stop(self) -> None: ...


class Agent:
    """Base class of every agent. See the module docstring for the contract."""

    #: name under which the agent is registered (set by subclasses)
    name: str = "agent"

    def __init__(
        self,
        *,
        env: EnvSpec,
        preset: str | None = None,
        device: str = "cpu",
        seed: int = 0,
        work_dir: str | Path | None = None,
        **config_overrides: Any,
    ) -> None:
        self.env = env
        self.preset = preset
        self.device = device
        self.seed = int(seed)
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.config: dict[str, Any] = dict(config_overrides)
        #: env steps trained so far (restored from checkpoints; the runner reads it)
        self.env_steps_trained: int = 0
        #: save ``work_dir/checkpoint.pt`` every this many env steps (set by the runner; 0 = off)
        self.checkpoint_every: int = 0
        self._last_checkpoint_step = 0

    # -- to implement ---------------------------------------------------------------------------
    def act(self, observations: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """Actions for a batch of observations (evaluation policy)."""
        raise NotImplementedError

    def initial_state(self, batch_size: int) -> Any:
        """The state at the start of an episode, for ``batch_size`` envs."""
        return None

    def train(self, env_steps: int, progress: Progress | None = None) -> dict[str, Any]:
        """Interact with ``self.env`` until ``env_steps`` agent steps in total have been
        collected (counting ``env_steps_trained`` already done: a resumed agent continues) and
        learn. Returns a summary dict (recorded in the result)."""
        raise NotImplementedError

    def save_checkpoint(self, path: str | Path) -> None:
        raise NotImplementedError

    def load_checkpoint(self, path: str | Path) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """``{"hyperparameters": {...}, "parameters": {component: count, ..., "total": n}}``"""
        return {"hyperparameters": dict(self.config), "parameters": {}}

    def default_train_steps(self) -> int:
        """Env steps ``wmbench run`` trains for when ``--train-steps`` is not given: the
        protocol's budget (100k for Atari 100k). Presets for toy envs may override it."""
        return self.env.protocol.train_env_steps

    # -- provided -------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return self.work_dir / "checkpoint.pt" if self.work_dir is not None else None

    def maybe_checkpoint(self, env_step: int) -> bool:
        """Call from the training loop: saves ``work_dir/checkpoint.pt`` every
        ``checkpoint_every`` env steps, so a job restarted after a lost worker resumes from
        there (the runner loads it) instead of from zero. Returns whether it saved."""
        if not self.checkpoint_every or self.checkpoint_path is None:
            return False
        if env_step - self._last_checkpoint_step < self.checkpoint_every:
            return False
        self.env_steps_trained = env_step
        self.save_checkpoint(self.checkpoint_path)
        self._last_checkpoint_step = env_step
        return True

    def reset_state(self, state: Any, done: np.ndarray) -> Any:
        """Reset the entries of ``state`` whose env starts a new episode (``done[i]`` True)."""
        if state is None or not np.any(done):
            return state
        fresh = self.initial_state(len(done))
        return _tree_where(done, fresh, state)

    def evaluate(
        self,
        num_episodes: int,
        render: bool = False,
        *,
        num_envs: int = 8,
        seed: int | None = None,
        on_episode: Callable[[float, int], None] | None = None,
    ) -> dict[str, Any]:
        """Play ``num_episodes`` full episodes with ``act`` on ``num_envs`` envs at once.

        Episodes are assigned to envs up front (env i plays its quota), so the result does not
        favour short episodes. Returns ``{"episode_returns": [...], "episode_lengths": [...]}``
        (and ``"frames"``: a list of (T, H, W, 3) arrays of the first episode if ``render``).
        """
        if num_episodes < 1:
            raise ValueError("num_episodes must be >= 1")
        n = max(1, min(num_envs, num_episodes))
        quota = np.full(n, num_episodes // n)
        quota[: num_episodes % n] += 1
        venv = self.env.make_vector(n)
        eval_seed = self.seed + 10_000 if seed is None else seed
        returns: list[float] = []
        lengths: list[int] = []
        frames: list[np.ndarray] = []
        try:
            obs, _ = venv.reset(seed=eval_seed)
            state = self.initial_state(n)
            ep_ret = np.zeros(n)
            ep_len = np.zeros(n, dtype=np.int64)
            done_count = np.zeros(n, dtype=np.int64)
            while (done_count < quota).any():
                if render and not returns and done_count[0] == 0:
                    frames.append(obs[0].copy())
                actions, state = self.act(obs, state)
                # SAME_STEP autoreset: an env whose episode ends returns its next episode's start
                obs, reward, terminated, truncated, _ = venv.step(np.asarray(actions))
                active = done_count < quota
                ep_ret[active] += reward[active]
                ep_len[active] += 1
                ended = terminated | truncated
                for i in np.flatnonzero(ended & active):
                    returns.append(float(ep_ret[i]))
                    lengths.append(int(ep_len[i]))
                    done_count[i] += 1
                    if on_episode is not None:
                        on_episode(float(ep_ret[i]), int(ep_len[i]))
                if ended.any():
                    state = self.reset_state(state, ended)
                    ep_ret[ended] = 0.0
                    ep_len[ended] = 0
        finally:
            venv.close()
        result: dict[str, Any] = {"episode_returns": returns, "episode_lengths": lengths}
        if render:
            result["frames"] = [np.stack(frames)] if frames else []
        return result


def _tree_where(mask: np.ndarray, fresh: Any, old: Any) -> Any:
    if isinstance(old, dict):
        return {k: _tree_where(mask, fresh[k], old[k]) for k in old}
    if isinstance(old, (tuple, list)):
        return type(old)(_tree_where(mask, f, o) for f, o in zip(fresh, old))
    if isinstance(old, np.ndarray):
        m = mask.reshape((-1,) + (1,) * (old.ndim - 1))
        return np.where(m, fresh, old)
    try:
        import torch
    except ImportError:  # pragma: no cover
        return old
    if isinstance(old, torch.Tensor):
        m = torch.as_tensor(mask, device=old.device).reshape((-1,) + (1,) * (old.ndim - 1))
        return torch.where(m, fresh.to(old.device), old)
    return old
