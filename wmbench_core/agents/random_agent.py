"""The uniform-random baseline: the reference point of human-normalised scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from wmbench_core.agent import Agent, CheckpointError, ConfigError, Progress


class RandomAgent(Agent):
    name = "random"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.preset not in (None, "default"):
            raise ConfigError(f"unknown preset {self.preset!r}; valid: default")
        if self.config:
            raise ConfigError(f"unknown config key(s) {', '.join(self.config)}; the random agent has none")
        self.preset = "default"
        self.rng = np.random.default_rng(self.seed)

    def act(self, observations: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        return self.rng.integers(self.env.num_actions, size=len(observations)), state

    def train(self, env_steps: int, progress: Progress | None = None) -> dict[str, Any]:
        self.env_steps_trained = env_steps  # nothing to learn
        return {}

    def save_checkpoint(self, path: str | Path) -> None:
        from wmbench_core.learning.checkpoint import save_checkpoint

        save_checkpoint(path, self.name, {"seed": self.seed, "env_steps": self.env_steps_trained})

    def load_checkpoint(self, path: str | Path) -> None:
        from wmbench_core.learning.checkpoint import load_checkpoint

        data = load_checkpoint(path, self.name)
        if "env_steps" not in data:
            raise CheckpointError(f"checkpoint {str(path)!r} has no 'env_steps'")
        self.env_steps_trained = int(data["env_steps"])

    def describe(self) -> dict[str, Any]:
        return {"hyperparameters": {"policy": "uniform over the minimal action set"}, "parameters": {"total": 0}}
