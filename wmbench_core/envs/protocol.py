"""Named, versioned environment protocols. Every result records the protocol it was run under.

The default ``atari100k`` follows the protocol of IRIS, DIAMOND and DreamerV3 on Atari 100k
(shared/research/benchmarking.md §2): no sticky actions, minimal action set, frame skip 4 with
max-pool over the last two frames, up to 30 no-op starts, 64x64 RGB, episodes capped at
108,000 frames, and no life-loss terminal at evaluation. Deviations are new protocol values
(``Protocol.replace``), which change the protocol's identity, so runs under different
protocols are never pooled silently.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    name: str = "atari100k"
    version: int = 1
    frameskip: int = 4  # agent step = 4 emulator frames
    maxpool: bool = True  # max over the last two frames of each skip
    noop_max: int = 30  # random number of no-ops (0..noop_max) after reset
    repeat_action_probability: float = 0.0  # no sticky actions (ALE v5 default would be 0.25)
    full_action_space: bool = False  # minimal action set
    screen_size: int = 64  # 64x64 observations
    grayscale: bool = False  # RGB
    max_episode_frames: int = 108_000  # 30 minutes of play = 27,000 agent steps
    eval_terminal_on_life_loss: bool = False  # evaluation episodes end at game over only
    train_env_steps: int = 100_000  # the Atari 100k budget, in agent steps
    observation_layout: str = "HWC uint8"  # (H, W, 3) uint8; batches are (N, H, W, 3)

    def replace(self, **changes: object) -> Protocol:
        """A deviation from this protocol; the name gains a ``+custom`` suffix."""
        if not changes:
            return self
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown protocol option(s): {', '.join(sorted(unknown))}")
        name = changes.pop("name", None) or (
            self.name if self.name.endswith("+custom") else f"{self.name}+custom"
        )
        return dataclasses.replace(self, name=name, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        """Identity used to refuse pooling runs made under different protocols."""
        return "|".join(f"{k}={v}" for k, v in sorted(self.to_dict().items()))


ATARI100K = Protocol()

PROTOCOLS: dict[str, Protocol] = {"atari100k": ATARI100K}
