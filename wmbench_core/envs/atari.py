"""Atari environments under a :class:`~wmbench_core.envs.protocol.Protocol` (gymnasium + ale-py).

Two paths, one protocol: a single gymnasium env (``ALE/<Game>-v5`` with ``frameskip=1`` and
gymnasium's ``AtariPreprocessing``) for training loops, and ale-py's C++ ``AtariVectorEnv`` for
batched evaluation. Every ``AtariVectorEnv`` knob whose default differs from the protocol
(84x84 grayscale, frame stacking, reward clipping, fire reset) is set explicitly; a test checks
that both paths give identical frames, rewards and episode ends for the same actions.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from wmbench_core.envs.games import ale_rom_id
from wmbench_core.envs.protocol import Protocol

_registered = False


def _register_ale() -> None:
    global _registered
    if not _registered:
        import ale_py

        # ALE's two-line banner on every command that builds an Atari env, workers included, is
        # noise next to one-line errors; its version is recorded in every result. Warnings stay.
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Warning)
        gym.register_envs(ale_py)
        _registered = True


class LifeLossInfo(gym.Wrapper):
    """Adds ``info["life_loss"]``: True on the step a life is lost (the episode goes on).

    Agents that treat a lost life as a terminal during training (IRIS, DIAMOND, DreamerV1) read
    this flag; the environment itself only ends at game over, as the protocol says.
    """

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._lives = self.env.unwrapped.ale.lives()
        info["life_loss"] = False
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = self.env.unwrapped.ale.lives()
        info["life_loss"] = bool(lives < self._lives)
        self._lives = lives
        return obs, reward, terminated, truncated, info


def make_atari_env(game: str, protocol: Protocol, *, terminal_on_life_loss: bool = False) -> gym.Env:
    """One Atari env: observations (64, 64, 3) uint8, raw (unclipped) rewards."""
    _register_ale()
    env = gym.make(
        f"ALE/{game}-v5",
        frameskip=1,  # frame skipping and max-pooling are done by AtariPreprocessing
        repeat_action_probability=protocol.repeat_action_probability,
        full_action_space=protocol.full_action_space,
        max_num_frames_per_episode=protocol.max_episode_frames,
    )
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=protocol.noop_max,
        frame_skip=protocol.frameskip,
        screen_size=protocol.screen_size,
        grayscale_obs=protocol.grayscale,
        grayscale_newaxis=True,
        terminal_on_life_loss=terminal_on_life_loss,
        scale_obs=False,
    )
    if not protocol.maxpool:
        raise ValueError("protocol.maxpool=False is not supported by the single-env Atari path")
    return LifeLossInfo(env)


class AtariVectorEnvHWC(gym.vector.VectorWrapper):
    """ale-py's vector env with ``(N, H, W, C)`` observations (it returns ``(N, 1, H, W, C)``)."""

    def __init__(self, env: gym.vector.VectorEnv):
        super().__init__(env)
        h, w, c = env.single_observation_space.shape[-3:]
        self.single_observation_space = gym.spaces.Box(0, 255, (h, w, c), np.uint8)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, env.num_envs
        )

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return self._squeeze(obs), info

    def step(self, actions: Any):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return self._squeeze(obs), reward, terminated, truncated, info

    def _squeeze(self, obs: np.ndarray) -> np.ndarray:
        n = obs.shape[0]
        return obs.reshape(n, *self.single_observation_space.shape)


def make_atari_vector_env(game: str, protocol: Protocol, num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` Atari envs stepped in C++ threads; autoreset mode SAME_STEP."""
    from ale_py.vector_env import AtariVectorEnv

    _register_ale()

    env = AtariVectorEnv(
        ale_rom_id(game),
        num_envs,
        frameskip=protocol.frameskip,
        maxpool=protocol.maxpool,
        img_height=protocol.screen_size,
        img_width=protocol.screen_size,
        grayscale=protocol.grayscale,
        stack_num=1,  # default 4: agents see single frames
        noop_max=protocol.noop_max,
        repeat_action_probability=protocol.repeat_action_probability,
        full_action_space=protocol.full_action_space,
        max_num_frames_per_episode=protocol.max_episode_frames,
        episodic_life=protocol.eval_terminal_on_life_loss,
        reward_clipping=False,  # default True: raw scores are what is measured
        use_fire_reset=False,  # default True: not part of the protocol
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,  # default NEXT_STEP wastes a step
    )
    return AtariVectorEnvHWC(env)


def atari_action_meanings(game: str, protocol: Protocol) -> list[str]:
    env = make_atari_env(game, protocol)
    try:
        return list(env.unwrapped.get_action_meanings())
    finally:
        env.close()
