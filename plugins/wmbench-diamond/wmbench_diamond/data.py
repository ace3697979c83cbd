"""DIAMOND's dataset on top of the core replay buffer.

* Every real step is one row of :class:`wmbench_core.learning.replay.ReplayBuffer`; an episode
  (a life, in Atari training) that ended keeps the frame that followed its last step
  (``final_obs``), which the reward/termination model needs to see the terminal transition.
* Sampling is recency weighted like the reference code: episodes are split by index into
  ``len(weights)`` chronological groups (default 4 quarters, weights 0.1/0.1/0.1/0.7; the newest
  group takes the remainder), an episode is uniform within its group, a step uniform within its
  episode, and the window is placed around that step as the reference's ``BatchSampler`` does;
  with fewer episodes than groups, steps are uniform (length-proportional episodes).
* Windows come from ``ReplayBuffer.sample_segments``; steps outside the episode are padding:
  zero frames (mid-grey in [-1, 1]), action 0, ``mask`` False, as in the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from wmbench_core.learning.replay import ReplayBuffer, frames_to_tensor


def recency_weighted_episodes(
    lens: np.ndarray, n: int, rng: np.random.Generator, weights: tuple[float, ...] = (0.1, 0.1, 0.1, 0.7)
) -> np.ndarray:
    """``n`` episode indices (chronological). Reference ``BatchSampler``: the episodes form
    ``len(weights)`` groups by index, each of ``num_eps // len(weights)`` except the newest, which
    also takes the remainder; a group is drawn with its weight, an episode uniformly inside it.
    With fewer episodes than groups, episodes are drawn in proportion to their length."""
    num_eps, k = len(lens), len(weights)
    if num_eps < k:
        return rng.choice(num_eps, size=n, p=lens / lens.sum())
    sizes = np.full(k, num_eps // k)
    sizes[-1] += num_eps % k
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    w = np.asarray(weights, dtype=np.float64)
    g = rng.choice(k, size=n, p=w / w.sum())
    return first[g] + np.floor(rng.random(n) * sizes[g]).astype(np.int64)


class DiamondDataset:
    def __init__(self, capacity: int, obs_shape: tuple[int, int, int], image_size: int) -> None:
        self.buffer = ReplayBuffer(capacity, obs_shape)
        self.obs_shape = obs_shape
        self.image_size = image_size
        #: chronological row of an episode's last step -> the frame that followed it
        self.final_obs: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.buffer)

    def add(
        self, obs: np.ndarray, action: int, reward: float, end: bool, trunc: bool,
        is_first: bool, final_obs: np.ndarray | None = None,
    ) -> None:
        if len(self.buffer) == self.buffer.capacity:
            self._grow()
        row = len(self.buffer)
        self.buffer.add(obs, action, reward, end, trunc, is_first)
        if final_obs is not None:
            self.final_obs[row] = np.array(final_obs, dtype=np.uint8)

    def _grow(self) -> None:
        """The reference never drops data: double the buffer instead of overwriting."""
        old = self.buffer
        new = ReplayBuffer(2 * old.capacity, self.obs_shape)
        for k, v in old.data.items():
            new.data[k][: old.size] = v[: old.size]
        new.size, new.next = old.size, old.size
        new.total_added, new.num_episodes = old.total_added, old.num_episodes
        self.buffer = new

    def reward_class_counts(self) -> np.ndarray:
        """How many transitions have reward sign -1, 0, +1."""
        r = np.sign(self.buffer.data["reward"][: len(self.buffer)]).astype(np.int64) + 1
        return np.bincount(r, minlength=3)

    # -- sampling -------------------------------------------------------------------------
    def _spans(self, with_final: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        starts, lens = self.buffer.episode_spans()
        extra = None
        if with_final:
            last = starts + lens - 1
            extra = np.array([int(r) in self.final_obs for r in last], dtype=np.int64)
        return starts, lens, extra

    def sample_windows(
        self, n: int, length: int, rng: np.random.Generator, weights: tuple[float, ...],
        pad_end: bool = False, with_final: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` windows of ``length`` steps as (first positions, a step of the episode each
        belongs to), for :meth:`segments`. As the reference ``BatchSampler``: a recency-weighted
        episode, a step t uniform in it, and a window holding t that starts ``U[0, length)``
        steps before t (``pad_end``: padding on either side; the reward/termination model) or
        ends ``U[0, length)`` steps after t but not past the episode's last step (padding on the
        left only; denoiser and imagination contexts). ``with_final``: an ended episode's final
        observation counts as one more step."""
        starts, lens, extra = self._spans(with_final)
        span = lens + (0 if extra is None else extra)
        ep = recency_weighted_episodes(span, n, rng, weights)
        t = np.floor(rng.random(n) * span[ep]).astype(np.int64)
        shift = rng.integers(0, length, size=n)
        first = t - shift if pad_end else np.minimum(span[ep] - 1, t + shift) - (length - 1)
        owner = starts[ep] + np.minimum(t, lens[ep] - 1)
        return starts[ep] + first, owner

    def segments(
        self, starts: np.ndarray, length: int, episode_of: np.ndarray | None, rng: np.random.Generator,
        device: torch.device | str = "cpu",
    ) -> dict[str, torch.Tensor]:
        """Windows ``[start, start + length)`` inside one episode, as tensors.

        obs (B, T, C, S, S) in [-1, 1] (S = image_size), act (B, T), rew (B, T), end (B, T),
        mask (B, T). The step right after an ended episode's last step is its final observation
        (``mask`` True there, action 0, reward 0, end 0).
        """
        seg = self.buffer.sample_segments(len(starts), length, rng, starts=starts, episode_of=episode_of)
        mask = seg["mask"].copy()
        obs = seg["obs"].copy()
        ended = seg["terminated"] | seg["truncated"]
        pos = np.asarray(starts)[:, None] + np.arange(length)[None, :]
        for b, j in zip(*np.nonzero(mask & ended)):
            row = int(pos[b, j])
            if j + 1 < length and row in self.final_obs and not mask[b, j + 1]:
                obs[b, j + 1] = self.final_obs[row]
                mask[b, j + 1] = True
                seg["action"][b, j + 1] = 0
                seg["reward"][b, j + 1] = 0.0
                seg["terminated"][b, j + 1] = False
                seg["truncated"][b, j + 1] = False
        pad = ~mask
        act = seg["action"].copy()
        act[pad] = 0
        out = {
            "obs": self.to_tensor(obs, device) * torch.as_tensor(mask, device=device)[..., None, None, None],
            "act": torch.as_tensor(act, device=device),
            "rew": torch.as_tensor(np.where(pad, 0.0, seg["reward"]), dtype=torch.float32, device=device),
            "end": torch.as_tensor(seg["terminated"] & mask, device=device),
            "mask": torch.as_tensor(mask, device=device),
        }
        return out

    def to_tensor(self, frames: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        """(..., H, W, 3) uint8 -> (..., 3, S, S) float in [-1, 1], area-resized to image_size."""
        x = frames_to_tensor(frames, device).mul_(2).sub_(1)
        if x.shape[-1] != self.image_size:
            lead = x.shape[:-3]
            x = F.interpolate(x.flatten(0, -4), size=(self.image_size, self.image_size), mode="area")
            x = x.view(*lead, *x.shape[1:])
        return x

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        rows = sorted(self.final_obs)
        frames = np.stack([self.final_obs[r] for r in rows]) if rows else np.zeros((0, *self.obs_shape), np.uint8)
        return {
            "buffer": self.buffer.state_dict(),
            "final_rows": torch.as_tensor(np.asarray(rows, dtype=np.int64)),
            "final_frames": torch.from_numpy(frames),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = len(state["buffer"]["data"]["obs"])
        if n > self.buffer.capacity:
            self.buffer = ReplayBuffer(n, self.obs_shape)
        self.buffer.load_state_dict(state["buffer"])
        rows = state["final_rows"].tolist()
        frames = state["final_frames"].numpy()
        self.final_obs = {int(r): frames[i].copy() for i, r in enumerate(rows)}
