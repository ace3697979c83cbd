"""Environments: one protocol for every agent.

The core, not the agent, builds environments. An agent receives an :class:`EnvSpec` (the game
and the protocol) and asks it for environments::

    env = spec.make()                      # one gymnasium env for a training loop
    venv = spec.make_vector(8)             # 8 envs stepped together (evaluation)
    venv = spec.make_vector(8, training=True)  # ... for an agent that trains on a vector env
    spec.num_actions, spec.observation_shape  # (64, 64, 3): HWC uint8 frames

Observations are ``(H, W, 3)`` uint8 frames (batches ``(N, H, W, 3)``); rewards are raw game
scores. ``info["life_loss"]`` is True on a step that lost a life: agents that treat life loss
as a terminal during training read it (and record that they do); the episode itself ends only
at game over. Vector envs auto-reset in gymnasium's SAME_STEP mode: the step that ends an
episode returns the first observation of the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import gymnasium as gym

from wmbench_core.envs.episode_log import EpisodeLog, RecordEpisodes, RecordVectorEpisodes
from wmbench_core.envs.games import (
    ATARI100K_GAMES,
    SUITES,
    TOY_GAMES,
    UnknownGameError,
    resolve_game,
)
from wmbench_core.envs.protocol import ATARI100K, PROTOCOLS, Protocol

__all__ = [
    "ATARI100K",
    "ATARI100K_GAMES",
    "EnvSpec",
    "EpisodeLog",
    "PROTOCOLS",
    "Protocol",
    "SUITES",
    "UnknownGameError",
    "make_env_spec",
    "resolve_game",
]


@dataclass(frozen=True)
class EnvSpec:
    """A game under a protocol: the env factory every agent receives."""

    game: str
    protocol: Protocol = field(default=ATARI100K)
    #: set by the runner: training envs (:meth:`make`, ``make_vector(n, training=True)``) report
    #: their finished episodes to it (the job's learning curve)
    episode_log: EpisodeLog | None = field(default=None, compare=False, repr=False)

    def recording_episodes(self, log: EpisodeLog) -> EnvSpec:
        """This spec, with every training env it makes reporting its episodes to ``log``."""
        return replace(self, episode_log=log)

    @property
    def is_atari(self) -> bool:
        return self.game not in TOY_GAMES

    def make(self, *, seed: int | None = None) -> gym.Env:
        """A single env (for training); ``seed`` is applied at the first ``reset`` by the caller
        (gymnasium). With an :attr:`episode_log`, its finished episodes are logged."""
        env = self.make_game_env()
        if seed is not None:
            env.action_space.seed(seed)
        if self.episode_log is not None:
            env = RecordEpisodes(env, self.episode_log)
        return env

    def make_game_env(self) -> gym.Env:
        """The game's env under the protocol, unwrapped by the core (subclasses override this)."""
        if self.game == "catch":
            from wmbench_core.envs.catch import CatchEnv

            return CatchEnv()
        from wmbench_core.envs.atari import make_atari_env

        return make_atari_env(self.game, self.protocol)

    def make_vector(self, num_envs: int, *, training: bool = False) -> gym.vector.VectorEnv:
        """``num_envs`` envs stepped together, SAME_STEP autoreset; seed them with ``reset(seed=)``.
        Evaluation by default; ``training=True`` for an agent that trains on a vector env (its
        episodes then go to the :attr:`episode_log`, like those of :meth:`make`)."""
        if num_envs < 1:
            raise ValueError("num_envs must be >= 1")
        venv = self.make_game_vector_env(num_envs)
        if training and self.episode_log is not None:
            venv = RecordVectorEpisodes(venv, self.episode_log)
        return venv

    def make_game_vector_env(self, num_envs: int) -> gym.vector.VectorEnv:
        """The game's vector env under the protocol (subclasses override this)."""
        if self.game == "catch":
            from wmbench_core.envs.catch import CatchEnv

            return gym.vector.SyncVectorEnv(
                [CatchEnv for _ in range(num_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
            )
        from wmbench_core.envs.atari import make_atari_vector_env

        return make_atari_vector_env(self.game, self.protocol, num_envs)

    @cached_property
    def num_actions(self) -> int:
        return len(self.action_meanings)

    @cached_property
    def action_meanings(self) -> list[str]:
        if self.game == "catch":
            from wmbench_core.envs.catch import CatchEnv

            return CatchEnv().get_action_meanings()
        from wmbench_core.envs.atari import atari_action_meanings

        return atari_action_meanings(self.game, self.protocol)

    @property
    def observation_shape(self) -> tuple[int, int, int]:
        s = self.protocol.screen_size if self.is_atari else 64
        return (s, s, 1 if (self.is_atari and self.protocol.grayscale) else 3)

    def to_dict(self) -> dict:
        return {"game": self.game, "protocol": self.protocol.to_dict()}


def make_env_spec(game: str, protocol: str | Protocol = "atari100k", **overrides: object) -> EnvSpec:
    """Resolve a game name leniently and attach a protocol (by name, with optional deviations)."""
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}")
        protocol = PROTOCOLS[protocol]
    return EnvSpec(resolve_game(game), protocol.replace(**overrides))
