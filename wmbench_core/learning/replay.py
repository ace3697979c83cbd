"""Replay of uint8 frames, each stored once, sampled as sequences or within-episode segments.

Row ``t`` of the buffer is one agent step::

    obs[t]        the frame the agent saw           (H, W, C) uint8
    action[t]     the action it took                 int64
    reward[t]     the reward that followed           float32
    terminated[t] the episode ended after this step (game over, or a life loss the agent treats
                  as terminal for learning)
    truncated[t]  the episode was cut after this step (time limit)
    is_first[t]   obs[t] starts an episode

plus any ``extra_fields`` an agent declares. 100k Atari steps take 100k x 64x64x3 bytes
≈ 1.23 GB for the frames plus ~2 MB for the rest.

* :meth:`ReplayBuffer.sample_sequences` — contiguous windows that may run across episode
  boundaries (Dreamer: the model resets its state at ``is_first``).
* :meth:`ReplayBuffer.sample_segments` — windows inside one episode, padded past its end with
  ``mask`` False (IRIS, DIAMOND), from uniform or agent-chosen start steps.
* :meth:`ReplayBuffer.episode_window_starts` — where windows that fit inside one finished
  episode start, the episode drawn uniformly (DreamerV1/V2); :meth:`ReplayBuffer.rows` reads them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ReplayBuffer:
    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...] = (64, 64, 3),
        extra_fields: dict[str, tuple[tuple[int, ...], Any]] | None = None,
    ) -> None:
        self.capacity = int(capacity)
        fields: dict[str, tuple[tuple[int, ...], Any]] = {
            "obs": (tuple(obs_shape), np.uint8),
            "action": ((), np.int64),
            "reward": ((), np.float32),
            "terminated": ((), bool),
            "truncated": ((), bool),
            "is_first": ((), bool),
            "episode": ((), np.int64),
        }
        fields.update(extra_fields or {})
        self.data = {k: np.zeros((self.capacity, *shape), dtype) for k, (shape, dtype) in fields.items()}
        self.size = 0  # rows held
        self.next = 0  # ring write position
        self.total_added = 0
        self.num_episodes = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        action: int,
        reward: float,
        terminated: bool,
        truncated: bool = False,
        is_first: bool = False,
        **extra: Any,
    ) -> None:
        if is_first or self.total_added == 0:
            self.num_episodes += 1
            is_first = True
        i = self.next
        d = self.data
        d["obs"][i] = obs
        d["action"][i] = action
        d["reward"][i] = reward
        d["terminated"][i] = terminated
        d["truncated"][i] = truncated
        d["is_first"][i] = is_first
        d["episode"][i] = self.num_episodes - 1
        for k, v in extra.items():
            d[k][i] = v
        self.next = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        self.total_added += 1

    # -- positions --------------------------------------------------------------------------
    def _oldest(self) -> int:
        return 0 if self.size < self.capacity else self.next

    def _chrono(self, k: np.ndarray) -> np.ndarray:
        """Chronological positions (0 = oldest row held) -> ring indices."""
        return (self._oldest() + k) % self.capacity

    def _gather(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v[idx] for k, v in self.data.items()}

    def rows(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """The rows at chronological ``positions`` (0 = the oldest row held), any shape."""
        positions = np.asarray(positions)
        if positions.size and (positions.min() < 0 or positions.max() >= self.size):
            raise IndexError(f"positions must lie in [0, {self.size}), got {positions.min()}..{positions.max()}")
        return self._gather(self._chrono(positions))

    # -- sampling ---------------------------------------------------------------------------
    def sample_sequences(
        self, batch_size: int, length: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """``batch_size`` contiguous windows of ``length`` steps (may cross episodes)."""
        if self.size < length:
            raise ValueError(f"replay holds {self.size} steps, fewer than the sequence length {length}")
        starts = rng.integers(0, self.size - length + 1, size=batch_size)
        idx = self._chrono(starts[:, None] + np.arange(length)[None, :])
        return self._gather(idx)

    def episode_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """(start, length) of every episode held, in chronological positions."""
        ep = self.data["episode"][self._chrono(np.arange(self.size))]
        change = np.flatnonzero(np.diff(ep)) + 1
        starts = np.concatenate([[0], change])
        lengths = np.diff(np.concatenate([starts, [self.size]]))
        return starts, lengths

    def episode_uniform_steps(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` chronological positions: an episode drawn uniformly, then a step uniformly inside
        it. This is how the IRIS reference samples (episodes, not steps), so short episodes, e.g.
        single lives, are drawn more often than their length alone would give."""
        if self.size == 0:
            raise ValueError("replay is empty")
        starts, lengths = self.episode_spans()
        ep = rng.integers(0, len(starts), size=n)
        return starts[ep] + np.floor(rng.random(n) * lengths[ep]).astype(np.int64)

    def episode_window_starts(
        self, n: int, length: int, rng: np.random.Generator, prioritize_ends: bool = False
    ) -> np.ndarray | None:
        """``n`` chronological start positions of windows of ``length`` rows that each lie inside
        one episode, as DreamerV1 and V2 replay: an episode drawn uniformly among the finished ones
        (last row terminated or truncated) with more than ``length`` rows (V1 skips episodes with
        ``total - length < 1``, V2 those with fewer than ``minlen`` steps after the first row), then
        a start uniform over its windows.

        ``prioritize_ends`` is V2's option of that name with its ``minlen = maxlen = length``: the
        start is min(U{0, ..., rows}, rows - length), so the window that ends the episode also
        takes the draws past it (length + 1 of the rows + 1 draws).

        Until an episode has finished (the start of training) the unfinished one is used if it
        is long enough; None when no episode has more than ``length`` rows.
        """
        if self.size == 0:
            return None
        starts, lengths = self.episode_spans()
        last = self._chrono(starts + lengths - 1)
        finished = self.data["terminated"][last] | self.data["truncated"][last]
        long_enough = lengths > length
        pick = np.flatnonzero(long_enough & finished)
        if len(pick) == 0:
            pick = np.flatnonzero(long_enough)
        if len(pick) == 0:
            return None
        ep = pick[rng.integers(0, len(pick), size=n)]
        rows = lengths[ep]
        if prioritize_ends:
            offset = np.minimum(rng.integers(0, rows + 1), rows - length)
        else:
            offset = rng.integers(0, rows - length + 1)
        return starts[ep] + offset

    def sample_segments(
        self,
        batch_size: int,
        length: int,
        rng: np.random.Generator,
        starts: np.ndarray | None = None,
        episode_of: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Windows of ``length`` steps that stay inside one episode.

        ``starts`` (chronological positions, default uniform over all steps held) are where the
        windows begin; steps past the end of the episode are padded (copies of the last step)
        with ``mask`` False. A window belongs to the episode holding ``episode_of`` (default: its
        start); it may begin before that episode's first step (``mask`` False there, padded with
        copies of the first step), which is how DIAMOND pads conditioning frames.
        """
        if self.size == 0:
            raise ValueError("replay is empty")
        if starts is None:
            starts = rng.integers(0, self.size, size=batch_size)
        starts = np.asarray(starts)
        ep_start, ep_len = self.episode_spans()
        anchor = np.clip(starts if episode_of is None else np.asarray(episode_of), 0, self.size - 1)
        which = np.searchsorted(ep_start, anchor, side="right") - 1
        lo = ep_start[which]
        hi = lo + ep_len[which] - 1
        pos = starts[:, None] + np.arange(length)[None, :]
        mask = (pos >= lo[:, None]) & (pos <= hi[:, None])
        pos = np.clip(pos, lo[:, None], hi[:, None])
        out = self._gather(self._chrono(pos))
        out["mask"] = mask
        return out

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        import torch

        held = self._chrono(np.arange(self.size))
        return {
            "capacity": self.capacity,
            "total_added": self.total_added,
            "num_episodes": self.num_episodes,
            "data": {k: torch.from_numpy(np.ascontiguousarray(v[held])) for k, v in self.data.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        rows = {k: v.numpy() for k, v in state["data"].items()}
        n = len(rows["obs"])
        if n > self.capacity:
            raise ValueError("checkpointed replay is larger than this buffer's capacity")
        for k, v in rows.items():
            self.data[k][:n] = v
        self.size, self.next = n, n % self.capacity
        self.total_added = int(state["total_added"])
        self.num_episodes = int(state["num_episodes"])


def frames_to_tensor(frames: np.ndarray, device: Any = "cpu", size: int | None = None) -> Any:
    """(..., H, W, C) uint8 numpy -> (..., C, H, W) float32 torch tensor in [0, 1], area-resized
    to ``size`` x ``size`` when given (toy presets that train on smaller images)."""
    import torch

    t = torch.as_tensor(frames, device=device)
    t = t.movedim(-1, -3).float().div_(255.0)
    return area_resize(t, size) if size else t


def area_resize(images: Any, size: int) -> Any:
    """Area-average (..., C, H, W) float images to (..., C, size, size); a no-op at that size.
    Area averaging keeps a downscaled pixel grid exact (catch's 8x8 cells survive it)."""
    import torch.nn.functional as F

    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    lead = images.shape[:-3]
    out = F.interpolate(images.reshape(-1, *images.shape[-3:]), size=(size, size), mode="area")
    return out.reshape(*lead, *out.shape[1:])
