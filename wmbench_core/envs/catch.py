"""``catch``: a tiny pixel game for testing that agents learn, on a CPU, in minutes.

A ball appears in a random column of the top row of an 8x8 grid and falls one row per step; the
agent moves a paddle on the bottom row (actions: 0 left, 1 stay, 2 right). When the ball reaches
the bottom row the episode ends with reward +1 if the paddle is under it and -1 otherwise (so an
episode is 7 steps). Observations are 64x64 RGB uint8 like the Atari protocol (each cell is 8x8
pixels; red ball, white paddle), so every agent runs on it unchanged.

Reference returns (``CATCH_RANDOM_RETURN`` is measured by ``tests/test_envs.py``): optimal +1.0;
uniformly random policy about -0.75 (a random walk ends under the ball ~12.6% of the time).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

GRID = 8
CELL = 8
SIZE = GRID * CELL  # 64
CATCH_OPTIMAL_RETURN = 1.0
CATCH_RANDOM_RETURN = -0.75  # mean of 4,000 random episodes (-0.7475), tests/test_envs.py


class CatchEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode: str | None = None):
        self.observation_space = gym.spaces.Box(0, 255, (SIZE, SIZE, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(3)
        self.render_mode = render_mode
        self._ball_row = 0
        self._ball_col = 0
        self._paddle = GRID // 2

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._ball_row = 0
        self._ball_col = int(self.np_random.integers(GRID))
        self._paddle = GRID // 2
        return self._obs(), {"life_loss": False}

    def step(self, action: Any):
        self._paddle = int(np.clip(self._paddle + int(action) - 1, 0, GRID - 1))
        self._ball_row += 1
        terminated = self._ball_row == GRID - 1
        reward = 0.0
        if terminated:
            reward = 1.0 if self._paddle == self._ball_col else -1.0
        return self._obs(), reward, terminated, False, {"life_loss": False}

    def render(self) -> np.ndarray:
        return self._obs()

    def _obs(self) -> np.ndarray:
        frame = np.zeros((SIZE, SIZE, 3), np.uint8)
        r, c = self._ball_row * CELL, self._ball_col * CELL
        frame[r : r + CELL, c : c + CELL] = (255, 0, 0)
        p = self._paddle * CELL
        frame[SIZE - CELL :, p : p + CELL] = (255, 255, 255)
        return frame

    def get_action_meanings(self) -> list[str]:
        return ["LEFT", "NOOP", "RIGHT"]
