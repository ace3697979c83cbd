"""Test helpers for plugin authors (a pytest plugin, auto-loaded through the ``pytest11``
entry point when wmbench is installed). Test an agent adapter in milliseconds::

    def test_my_agent_contract(wmbench_fake_env):
        from wmbench_core.testing import check_agent_contract
        check_agent_contract(MyAgent, preset="tiny", env=wmbench_fake_env)

Fixtures: ``wmbench_fake_env`` (:class:`FakeEnvSpec`), ``wmbench_catch_env`` (the core's
``catch`` game), ``wmbench_fake_agent`` (a :class:`FakeAgent` on the fake env),
``wmbench_out_dir`` (a fresh results directory), ``wmbench_one_torch_thread``; for CLI
subprocesses, :func:`one_thread_env`. Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from wmbench_core.agent import Agent, CheckpointError, ConfigError, Progress
from wmbench_core.envs import EnvSpec
from wmbench_core.envs.protocol import Protocol

FAKE_PROTOCOL = Protocol(name="fake", train_env_steps=64)


class FakeEnv(gym.Env):
    """4-step episodes of 64x64 RGB frames; reward 1 when the action equals the frame's colour
    index (0, 1 or 2, shown in the red channel), else 0. Optimal return 4, random 4/3."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(3)
        self._t = 0
        self._target = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._t = 0
        self._target = int(self.np_random.integers(3))
        return self._obs(), {"life_loss": False}

    def step(self, action: Any):
        reward = float(int(action) == self._target)
        self._t += 1
        self._target = int(self.np_random.integers(3))
        return self._obs(), reward, self._t >= 4, False, {"life_loss": False}

    def _obs(self) -> np.ndarray:
        frame = np.zeros((64, 64, 3), np.uint8)
        frame[..., 0] = 80 * (self._target + 1)
        return frame

    def get_action_meanings(self) -> list[str]:
        return ["A", "B", "C"]


@dataclass(frozen=True)
class FakeEnvSpec(EnvSpec):
    """An :class:`EnvSpec` of :class:`FakeEnv` (no emulator, microseconds per step)."""

    game: str = "fake"
    protocol: Protocol = FAKE_PROTOCOL

    @property
    def is_atari(self) -> bool:
        return False

    def make_game_env(self) -> gym.Env:
        return FakeEnv()

    def make_game_vector_env(self, num_envs: int) -> gym.vector.VectorEnv:
        return gym.vector.SyncVectorEnv(
            [FakeEnv for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
        )

    @property
    def action_meanings(self) -> list[str]:  # type: ignore[override]
        return FakeEnv().get_action_meanings()

    @property
    def num_actions(self) -> int:  # type: ignore[override]
        return 3


class FakeAgent(Agent):
    """A tiny agent that really learns (a table of mean reward per (colour, action)) in
    microseconds, without torch. Checkpoints are JSON."""

    name = "fake"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.preset not in (None, "default"):
            raise ConfigError(f"unknown preset {self.preset!r}; valid: default")
        self.preset = "default"
        unknown = set(self.config) - {"epsilon"}
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(sorted(unknown))}; valid: epsilon")
        self.config = {"epsilon": float(self.config.get("epsilon", 0.5))}
        self.rng = np.random.default_rng(self.seed)
        self.value_sum = np.zeros((256, 3))
        self.counts = np.zeros((256, 3))

    def _keys(self, observations: np.ndarray) -> np.ndarray:
        return observations[:, 0, 0, 0].astype(np.int64)

    def act(self, observations: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        q = self.value_sum / np.maximum(self.counts, 1)
        return q[self._keys(observations)].argmax(-1), state

    def train(self, env_steps: int, progress: Progress | None = None) -> dict[str, Any]:
        progress = progress or Progress()
        progress.start(env_steps, "fake")
        env = self.env.make()
        obs, _ = env.reset(seed=self.seed)
        while self.env_steps_trained < env_steps:
            key = int(obs[0, 0, 0])
            if self.rng.random() < self.config["epsilon"]:
                action = int(self.rng.integers(3))
            else:
                action = int(self.act(obs[None], None)[0][0])
            next_obs, reward, terminated, truncated, _ = env.step(action)
            self.value_sum[key, action] += reward
            self.counts[key, action] += 1
            self.env_steps_trained += 1
            progress.update(self.env_steps_trained, {"visits": float(self.counts.sum())})
            self.maybe_checkpoint(self.env_steps_trained)
            obs = env.reset()[0] if (terminated or truncated) else next_obs
        progress.stop()
        return {"table_entries": int((self.counts > 0).sum())}

    def save_checkpoint(self, path: str | Path) -> None:
        data = {"format": "wmbench-fake", "env_steps": self.env_steps_trained,
                "value_sum": self.value_sum.tolist(), "counts": self.counts.tolist()}  # fmt: skip
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data))

    def load_checkpoint(self, path: str | Path) -> None:
        try:
            data = json.loads(Path(path).read_text())
            self.value_sum = np.asarray(data["value_sum"], dtype=float)
            self.counts = np.asarray(data["counts"], dtype=float)
            self.env_steps_trained = int(data["env_steps"])
        except FileNotFoundError:
            raise CheckpointError(f"checkpoint {str(path)!r} does not exist") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} is not a fake-agent checkpoint ({exc})") from None

    def describe(self) -> dict[str, Any]:
        size = int(self.value_sum.size)
        return {"hyperparameters": dict(self.config), "parameters": {"table": size, "total": size}}


def check_agent_contract(
    factory: Any,
    *,
    env: EnvSpec | None = None,
    preset: str | None = None,
    train_steps: int = 16,
    episodes: int = 2,
    tmp_dir: str | Path | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Exercise the whole agent contract quickly; raises AssertionError on a violation.

    Builds the agent, checks ``config`` is JSON-serialisable and ``describe()`` has parameter
    counts, trains ``train_steps`` env steps, evaluates, and round-trips a checkpoint (the
    reloaded agent must act identically on the same observations).
    """
    import tempfile

    env = env or FakeEnvSpec()
    tmp = Path(tmp_dir or tempfile.mkdtemp(prefix="wmbench-contract-"))
    agent = factory(env=env, preset=preset, device="cpu", seed=0, work_dir=tmp / "work", **overrides)
    json.dumps(agent.config)
    desc = agent.describe()
    assert "hyperparameters" in desc and "parameters" in desc, "describe() must give hyperparameters and parameters"
    agent.train(train_steps)
    assert agent.env_steps_trained >= train_steps, "train() must advance env_steps_trained"
    result = agent.evaluate(episodes, num_envs=2)
    assert len(result["episode_returns"]) == episodes
    assert len(result["episode_lengths"]) == episodes
    ckpt = tmp / "agent.ckpt"
    agent.save_checkpoint(ckpt)
    other = factory(env=env, preset=preset, device="cpu", seed=0, work_dir=None, **overrides)
    other.load_checkpoint(ckpt)
    assert other.env_steps_trained == agent.env_steps_trained, "checkpoints must restore env_steps_trained"
    return result


@pytest.fixture
def wmbench_fake_env() -> FakeEnvSpec:
    return FakeEnvSpec()


@pytest.fixture
def wmbench_catch_env() -> EnvSpec:
    return EnvSpec("catch")


@pytest.fixture
def wmbench_fake_agent(wmbench_fake_env: FakeEnvSpec) -> FakeAgent:
    return FakeAgent(env=wmbench_fake_env, seed=0)


def one_thread_env() -> dict[str, str]:
    """Environment for a ``wmbench`` CLI subprocess started by a test: torch on one thread. Test
    sessions run two tests at once on two cores, and a 2-thread OpenMP pool that shares a core with
    another test waits for its descheduled partner at every op (an IRIS smoke run took 1,114 s in
    CI that way, 45 s alone)."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture
def wmbench_one_torch_thread():
    """Run the test with one torch thread (small models: faster, no fight for the cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def wmbench_out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    out.mkdir()
    return out
