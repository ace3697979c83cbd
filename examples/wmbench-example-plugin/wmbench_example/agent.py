"""The example agent: random, but sticky. Shows the smallest complete Agent subclass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wmbench_core.agent import Agent, CheckpointError, ConfigError

PRESETS = {"default": {"p": 0.75}, "jumpy": {"p": 0.25}}


class StickyRandomAgent(Agent):
    name = "sticky-random"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preset = self.preset or "default"
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; valid: {', '.join(PRESETS)}")
        unknown = set(self.config) - {"p"}
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(sorted(unknown))}; valid: p")
        self.config = {**PRESETS[self.preset], **self.config}
        self.rng = np.random.default_rng(self.seed)

    def initial_state(self, batch_size: int) -> np.ndarray:
        return np.zeros(batch_size, dtype=np.int64)  # the previous action, per env

    def act(self, observations: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(observations)
        fresh = self.rng.integers(self.env.num_actions, size=n)
        keep = self.rng.random(n) < self.config["p"]
        actions = np.where(keep, state, fresh)
        return actions, actions

    def train(self, env_steps: int, progress: Any = None) -> dict[str, Any]:
        self.env_steps_trained = env_steps
        return {}

    def save_checkpoint(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"p": self.config["p"], "env_steps": self.env_steps_trained}))

    def load_checkpoint(self, path: str | Path) -> None:
        try:
            data = json.loads(Path(path).read_text())
            self.config["p"], self.env_steps_trained = float(data["p"]), int(data["env_steps"])
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {exc}") from None

    def describe(self) -> dict[str, Any]:
        return {"hyperparameters": dict(self.config), "parameters": {"total": 0}}
