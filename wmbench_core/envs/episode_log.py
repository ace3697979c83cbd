"""Training-episode log: the learning curve of every agent, recorded by the core.

Agents build their training envs from the :class:`~wmbench_core.envs.EnvSpec` they receive; when
the runner gives them a spec with an :class:`EpisodeLog`, every training env it makes
(``make()``, ``make_vector(n, training=True)``) reports each finished episode to the log, which
appends one row ``env_step,return,length`` to ``jobs/<job>/train_episodes.csv`` (``env_step``:
agent steps taken in all training envs of the job when the episode ended). So every agent, a
third party's included, gets the same learning curve without writing a line for it, and the
curves of different agents are comparable: same counter, same raw (unclipped) game score,
episodes ending at game over as the protocol defines them.

A row is written (and flushed) when its episode ends, so a kill loses at most the episode in
flight. A job resumed from a checkpoint at step S calls :meth:`EpisodeLog.start` with S: rows past
S (episodes played after that checkpoint, which the resumed job plays again) are dropped first.
"""

from __future__ import annotations

import csv
import io
import math
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

TRAIN_EPISODES_FILE = "train_episodes.csv"
COLUMNS = ("env_step", "return", "length")


class EpisodeLog:
    """Where a job's training episodes go; shared by every training env the job makes."""

    def __init__(self, path: str | Path, recent: int = 10) -> None:
        self.path = Path(path)
        self.env_step = 0
        #: returns of the latest episodes (the progress bar shows their mean)
        self.recent: deque[float] = deque(maxlen=recent)

    def start(self, env_step: int) -> None:
        """Begin (or continue) the log at ``env_step``, the agent's steps already trained:
        earlier rows are kept, later ones (played after the checkpoint resumed from) dropped."""
        from wmbench_core.results import atomic_write_text

        self.env_step = int(env_step)
        rows = read_rows(self.path) if self.path.is_file() else []
        kept = [r for r in rows if r[0] <= self.env_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, _format(kept, header=True))
        self.recent.clear()
        self.recent.extend(r[1] for r in kept)

    def step(self, n: int = 1) -> None:
        self.env_step += n

    def episode(self, episode_return: float, length: int) -> None:
        self.recent.append(float(episode_return))
        with open(self.path, "a", newline="") as fh:
            fh.write(_format([(self.env_step, float(episode_return), int(length))], header=False))


def _format(rows: list[tuple[int, float, int]], header: bool) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    writer.writerows((s, repr(r), n) for s, r, n in rows)
    return buf.getvalue()


def read_rows(path: str | Path) -> list[tuple[int, float, int]]:
    """The rows of a training-episode log; a line that is not one (cut short by a kill, damaged,
    a header) is skipped."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            fields = line.strip().split(",")  # plain numbers: no quoting to undo
            if len(fields) != len(COLUMNS):
                continue
            try:
                step, ret, length = int(fields[0]), float(fields[1]), int(fields[2])
            except ValueError:
                continue
            if math.isfinite(ret):
                rows.append((step, ret, length))
    return rows


def read_episode_log(path: str | Path) -> dict[str, list[Any]] | None:
    """``{"env_step": [...], "return": [...], "length": [...]}`` for a job record (None: no log)."""
    path = Path(path)
    if not path.is_file():
        return None
    rows = read_rows(path)
    return {name: [r[i] for r in rows] for i, name in enumerate(COLUMNS)}


class RecordEpisodes(gym.Wrapper):
    """Counts a training env's steps into ``log`` and reports each episode that ends."""

    def __init__(self, env: gym.Env, log: EpisodeLog) -> None:
        super().__init__(env)
        self.log = log
        self._return, self._length = 0.0, 0

    def reset(self, **kwargs: Any) -> Any:
        self._return, self._length = 0.0, 0  # an episode cut off by a reset is not a finished one
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.log.step()
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            self.log.episode(self._return, self._length)
            self._return, self._length = 0.0, 0
        return obs, reward, terminated, truncated, info


class RecordVectorEpisodes(gym.vector.VectorWrapper):
    """The same for a vector env stepped for training (SAME_STEP autoreset): a step is
    ``num_envs`` agent steps; an episode ends where ``terminated | truncated``."""

    def __init__(self, env: gym.vector.VectorEnv, log: EpisodeLog) -> None:
        super().__init__(env)
        self.log = log
        self._returns = np.zeros(self.num_envs)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)

    def reset(self, **kwargs: Any) -> Any:
        self._returns[:], self._lengths[:] = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, actions: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        self.log.step(self.num_envs)
        self._returns += np.asarray(reward, dtype=np.float64)
        self._lengths += 1
        for i in np.flatnonzero(np.logical_or(terminated, truncated)):
            self.log.episode(self._returns[i], int(self._lengths[i]))
            self._returns[i], self._lengths[i] = 0.0, 0
        return obs, reward, terminated, truncated, info
