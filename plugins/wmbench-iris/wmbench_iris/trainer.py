"""IRIS training: one update of each component, the token cache, and the epoch schedule.

Paper Algorithm 1 / reference trainer: every epoch collects experience, then trains the
tokenizer, the world model and the actor-critic for a fixed number of steps each, each component
starting only after its start epoch, with its own optimiser, batch size and gradient clipping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from wmbench_core.learning.replay import ReplayBuffer, frames_to_tensor
from wmbench_core.learning.returns import lambda_returns
from wmbench_iris.actor_critic import ActorCritic, actor_critic_loss
from wmbench_iris.configs import IrisConfig
from wmbench_iris.imagination import ImaginedEnv, sample
from wmbench_iris.tokenizer import Tokenizer, chunked
from wmbench_iris.world_model import WorldModel


def _step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params, max_norm: float) -> float:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    optimizer.step()
    return float(norm)


# -- one update per component ------------------------------------------------------------------
def tokenizer_update(tokenizer: Tokenizer, optimizer: torch.optim.Optimizer, frames01: torch.Tensor,
                     max_grad_norm: float, perceptual: nn.Module | None = None,
                     reset_dead_codes: bool = True) -> dict[str, float]:
    tokenizer.train()
    loss, parts = tokenizer.compute_loss(frames01, perceptual, reset_dead_codes)
    _step(optimizer, loss, tokenizer.parameters(), max_grad_norm)
    return {"tokenizer/loss": loss.item(), **{f"tokenizer/{k}": v for k, v in parts.items()}}


def world_model_update(wm: WorldModel, optimizer: torch.optim.Optimizer, tokens: torch.Tensor,
                       actions: torch.Tensor, rewards: torch.Tensor, ends: torch.Tensor,
                       mask: torch.Tensor, max_grad_norm: float) -> dict[str, float]:
    wm.train()
    loss, parts = wm.compute_loss(tokens, actions, rewards, ends, mask)
    _step(optimizer, loss, wm.parameters(), max_grad_norm)
    return {"world_model/loss": loss.item(), **{f"world_model/{k}": v for k, v in parts.items()}}


def actor_critic_update(ac: ActorCritic, optimizer: torch.optim.Optimizer, tokenizer: Tokenizer,
                        wm: WorldModel, tokens: torch.Tensor, mask: torch.Tensor, cfg: IrisConfig,
                        generator: torch.Generator | None = None) -> dict[str, float]:
    """tokens (B, burn_in + 1, K) of real segments ending at the imagination start, mask (B, T)."""
    acc = cfg.actor_critic
    tokenizer.eval()
    wm.eval()
    ac.train()
    b, t, _ = tokens.shape
    burn = t - 1
    state = ac.initial_state(b, tokens.device)
    with torch.no_grad():
        if burn > 0:
            # the policy sees reconstructions; the segment's tokens come from the token cache,
            # so burn-in costs one decoder pass per frame and no encoder pass
            frames = chunked(tokenizer.decode_tokens, tokens[:, :burn].reshape(b * burn, -1),
                             cfg.training.inference_chunk).view(b, burn, 3, *_hw(tokenizer))
            for i in range(burn):
                _, _, state = ac(frames[:, i], state, mask[:, i])
    env = ImaginedEnv(tokenizer, wm, generator, cfg.training.imagine_temperature)
    obs = env.reset(tokens[:, -1])
    logits, values, actions, rewards, dones = [], [], [], [], []
    horizon = acc.imagine_horizon
    for k in range(horizon):
        lg, v, state = ac(obs, state)
        a = sample(lg.detach(), generator)
        logits.append(lg)
        values.append(v)
        actions.append(a)
        if k < horizon - 1:  # the last step's reward and frame are never used by the returns
            obs, r, d, _ = env.step(a)
            rewards.append(r)
            dones.append(d)
    value = torch.stack(values)  # (H, B)
    with torch.no_grad():
        ended = torch.stack(dones).float()  # (H - 1, B)
        discounts = acc.gamma * (1.0 - ended)
        returns = lambda_returns(torch.stack(rewards), value.detach(), discounts, acc.lambda_)
        weights = None
        if acc.mask_after_end:  # step k counts while no end was predicted before it
            alive = torch.cumprod(1.0 - ended, 0)
            weights = torch.cat([torch.ones_like(alive[:1]), alive[:-1]], 0)
    loss, parts = actor_critic_loss(torch.stack(logits)[:-1], torch.stack(actions)[:-1],
                                    value[:-1], returns, acc.entropy_weight, weights)
    _step(optimizer, loss, ac.parameters(), cfg.training.max_grad_norm)
    return {"actor_critic/loss": loss.item(), **{f"actor_critic/{k}": v for k, v in parts.items()},
            "actor_critic/imagined_return": float(torch.stack(rewards).sum(0).mean())}


def _hw(tokenizer: Tokenizer) -> tuple[int, int]:
    r = tokenizer.cfg.resolution
    return r, r


# -- tokens of replay frames, computed once per tokenizer version ------------------------------
class TokenCache:
    """Tokens of replay rows under the current tokenizer. The tokenizer is frozen while the world
    model and actor-critic train, so a frame's tokens are reused until the next tokenizer update
    (exactly what re-encoding every batch, as the reference does, computes)."""

    def __init__(self, capacity: int, tokens_per_frame: int, enabled: bool = True) -> None:
        self.capacity = capacity
        self.enabled = enabled
        self.tokens = torch.zeros(capacity, tokens_per_frame, dtype=torch.long)
        self.row = np.full(capacity, -1, dtype=np.int64)
        self.version = np.full(capacity, -1, dtype=np.int64)
        self.current = 0

    def invalidate(self) -> None:
        """Call after the tokenizer's weights change."""
        self.current += 1

    def lookup(self, tokenizer: Tokenizer, frames: np.ndarray, rows: np.ndarray,
               chunk: int) -> torch.Tensor:
        """frames (..., H, W, 3) uint8 of replay rows ``rows`` (...) -> tokens (..., K)."""
        lead = rows.shape
        rows = rows.reshape(-1)
        flat = frames.reshape(-1, *frames.shape[-3:])
        device = next(tokenizer.parameters()).device
        tokenizer.eval()
        if not self.enabled:
            toks = chunked(tokenizer.tokenize, frames_to_tensor(flat, device), chunk)
            return toks.cpu().view(*lead, -1)
        slots = rows % self.capacity
        hit = (self.row[slots] == rows) & (self.version[slots] == self.current)
        miss_rows, first = np.unique(rows[~hit], return_index=True)
        if len(miss_rows):
            miss_frames = flat[np.flatnonzero(~hit)[first]]
            toks = chunked(tokenizer.tokenize, frames_to_tensor(miss_frames, device), chunk)
            ms = miss_rows % self.capacity
            self.tokens[ms] = toks.cpu()
            self.row[ms] = miss_rows
            self.version[ms] = self.current
        return self.tokens[slots].view(*lead, -1)


# -- batches ----------------------------------------------------------------------------------
# Every batch draws an episode (a life, in Atari training) uniformly, then a step uniformly inside
# it, as the reference's ``EpisodesDataset.sample_batch`` does.
def tokenizer_batch(replay: ReplayBuffer, batch: int, rng: np.random.Generator,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    rows = replay.episode_uniform_steps(batch, rng)
    seg = replay.sample_segments(batch, 1, rng, starts=rows)
    return frames_to_tensor(seg["obs"][:, 0], device)  # uint8 crosses to the device, not float


def world_model_batch(replay: ReplayBuffer, cache: TokenCache, tokenizer: Tokenizer, batch: int,
                      length: int, rng: np.random.Generator, chunk: int) -> dict[str, torch.Tensor]:
    """Segments of ``length`` steps starting at the drawn steps, right-padded inside episodes."""
    seg = replay.sample_segments(batch, length, rng, starts=replay.episode_uniform_steps(batch, rng))
    return _to_torch(seg, cache, tokenizer, chunk)


def actor_critic_batch(replay: ReplayBuffer, cache: TokenCache, tokenizer: Tokenizer, batch: int,
                       burn_in: int, rng: np.random.Generator, chunk: int) -> dict[str, torch.Tensor]:
    """Segments of burn_in + 1 steps ending at the drawn steps, left-padded inside episodes."""
    ends = replay.episode_uniform_steps(batch, rng)
    seg = replay.sample_segments(batch, burn_in + 1, rng, starts=ends - burn_in, episode_of=ends)
    return _to_torch(seg, cache, tokenizer, chunk)


def _to_torch(seg: dict[str, np.ndarray], cache: TokenCache, tokenizer: Tokenizer,
              chunk: int) -> dict[str, torch.Tensor]:
    return {
        "tokens": cache.lookup(tokenizer, seg["obs"], seg["row"], chunk),
        "actions": torch.as_tensor(seg["action"]),
        "rewards": torch.as_tensor(seg["reward"]),
        "ends": torch.as_tensor(seg["terminated"]),
        "mask": torch.as_tensor(seg["mask"]),
    }


# -- the schedule -------------------------------------------------------------------------------
@dataclass
class EpochPlan:
    collect: int  # env steps to collect this epoch
    tokenizer: bool
    world_model: bool
    actor_critic: bool


def plan_epoch(cfg: IrisConfig, epoch: int, env_steps_done: int, env_steps_target: int,
               train_only_done: int) -> EpochPlan | None:
    """What epoch ``epoch`` (1-based) does, or None when training is over. Collection epochs
    run until the env-step budget is spent, then train-only epochs (paper: 100 after 500)."""
    t = cfg.training
    collect = max(0, min(t.collect_steps_per_epoch, env_steps_target - env_steps_done))
    if collect == 0:
        collection_epochs = math.ceil(env_steps_target / t.collect_steps_per_epoch)
        if train_only_done >= round(t.train_only_epochs_ratio * collection_epochs):
            return None
    return EpochPlan(
        collect=collect,
        tokenizer=epoch > t.tokenizer_start_after_epochs
        and (t.tokenizer_stop_after_epochs == 0 or epoch <= t.tokenizer_stop_after_epochs),
        world_model=epoch > t.world_model_start_after_epochs,
        actor_critic=epoch > t.actor_critic_start_after_epochs,
    )
