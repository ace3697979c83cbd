"""Test-only agents for the suite tests, importable in worker processes and Ray workers
(the tests put this directory on ``sys.path`` / ``PYTHONPATH`` and pass
``factories={"name": "wmsuite_agents:Class"}``).

:class:`FaultyAgent` plays catch at random, "trains" by stepping the env (saving a JSON checkpoint
through ``maybe_checkpoint``), and can misbehave on purpose, once per job and attempt, counted by
marker files in ``marker_dir`` so that a re-run behaves differently:

* ``kill_times=k, kill_at=n``: SIGKILL its own process at env step ``n`` on the first ``k``
  attempts (a lost worker);
* ``raise_times=k``: raise RuntimeError in ``train`` on the first ``k`` attempts;
* ``nan=True``: report NaN returns (always);

only for the job whose seed is ``victim_seed``. Evaluation actions come from their own RNG, so a
job that was killed and resumed scores exactly what an undisturbed run scores.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from wmbench_core.agent import Agent, CheckpointError, ConfigError, Progress

_KEYS = {"kill_at": 0, "kill_times": 0, "raise_times": 0, "nan": False, "victim_seed": -1,
         "marker_dir": "", "step_sleep": 0.0}  # fmt: skip


class FaultyAgent(Agent):
    name = "faulty"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = set(self.config) - set(_KEYS)
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(sorted(unknown))}; valid: {', '.join(_KEYS)}")
        self.config = {**_KEYS, **self.config}
        self.preset = self.preset or "default"
        self.sessions: list[int] = []  # env step at which each training session started
        self.train_rng = np.random.default_rng(self.seed)
        self.act_rng = np.random.default_rng(self.seed + 1)

    @property
    def victim(self) -> bool:
        return self.seed == int(self.config["victim_seed"])

    def _count(self, kind: str) -> int:
        """How many times this job did ``kind`` before (and count this time)."""
        path = Path(self.config["marker_dir"]) / f"{kind}-{self.env.game}-{self.seed}"
        n = int(path.read_text()) if path.is_file() else 0
        path.write_text(str(n + 1))
        return n

    def act(self, observations: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        return self.act_rng.integers(self.env.num_actions, size=len(observations)), state

    def train(self, env_steps: int, progress: Progress | None = None) -> dict[str, Any]:
        progress = progress or Progress()
        progress.start(env_steps, "faulty")
        self.sessions.append(self.env_steps_trained)
        if self.victim and self.config["raise_times"] and self._count("raise") < self.config["raise_times"]:
            raise RuntimeError("deliberate failure")
        kill = self.victim and self.config["kill_times"] and self._count("kill") < self.config["kill_times"]
        env = self.env.make()
        env.reset(seed=self.seed + self.env_steps_trained)
        while self.env_steps_trained < env_steps:
            _, _, terminated, truncated, _ = env.step(int(self.train_rng.integers(3)))
            if terminated or truncated:
                env.reset()
            self.env_steps_trained += 1
            if self.config["step_sleep"]:
                time.sleep(self.config["step_sleep"])
            progress.update(self.env_steps_trained)
            self.maybe_checkpoint(self.env_steps_trained)
            if kill and self.env_steps_trained == self.config["kill_at"]:
                os.kill(os.getpid(), signal.SIGKILL)
        progress.stop()
        return {"sessions": list(self.sessions)}

    def evaluate(self, num_episodes: int, render: bool = False, **kwargs: Any) -> dict[str, Any]:
        result = super().evaluate(num_episodes, render, **kwargs)
        if self.victim and self.config["nan"]:
            result["episode_returns"] = [float("nan")] * num_episodes
        return result

    def save_checkpoint(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"env_steps": self.env_steps_trained, "sessions": self.sessions,
                                   "rng": self.train_rng.bit_generator.state}))  # fmt: skip
        os.replace(tmp, path)

    def load_checkpoint(self, path: str | Path) -> None:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} is unreadable ({exc})") from None
        self.env_steps_trained = int(data["env_steps"])
        self.sessions = list(data["sessions"])
        self.train_rng.bit_generator.state = data["rng"]
        self._last_checkpoint_step = self.env_steps_trained
