"""The IRIS agent: wmbench's Agent contract around the tokenizer, world model and actor-critic."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wmbench_core.agent import Agent, CheckpointError, ConfigError, Progress
from wmbench_core.learning.checkpoint import load_checkpoint, restore_generator, save_checkpoint
from wmbench_core.learning.config import config_to_dict, require_at_least, resolve_config
from wmbench_core.learning.device import resolve_device, seed_everything
from wmbench_core.learning.monitor import TrainingMonitor
from wmbench_core.learning.replay import ReplayBuffer, frames_to_tensor
from wmbench_iris.actor_critic import ActorCritic, State
from wmbench_iris.configs import PRESETS, TINY_TRAIN_STEPS, IrisConfig
from wmbench_iris.imagination import sample
from wmbench_iris.perceptual_loss import load_perceptual_loss
from wmbench_iris.tokenizer import Tokenizer, token_grid
from wmbench_iris.trainer import (
    TokenCache,
    actor_critic_batch,
    actor_critic_update,
    plan_epoch,
    tokenizer_batch,
    tokenizer_update,
    world_model_batch,
    world_model_update,
)
from wmbench_iris.world_model import WorldModel, configure_optimizer

NAME = "iris"

#: sizes and counts that 0 would leave empty (or, for collection, never advance)
AT_LEAST_ONE = (
    "training.collect_steps_per_epoch", "world_model.max_blocks", "tokenizer.vocab_size", "tokenizer.embed_dim",
    "tokenizer.z_channels", "world_model.num_layers", "world_model.num_heads", "world_model.embed_dim",
    "actor_critic.lstm_dim", "training.tokenizer_batch_size", "training.world_model_batch_size",
    "training.actor_critic_batch_size", "training.inference_chunk", "training.log_every",
)  # fmt: skip


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class IrisAgent(Agent):
    name = NAME

    def __init__(self, *, env, preset: str | None = None, device: str = "cpu", seed: int = 0,
                 work_dir: str | Path | None = None, **config_overrides: Any) -> None:
        super().__init__(env=env, preset=preset, device=device, seed=seed, work_dir=work_dir,
                         **config_overrides)
        self.preset = preset or next(iter(PRESETS))
        self.cfg: IrisConfig = resolve_config(IrisConfig, PRESETS, self.preset, config_overrides)
        self._validate()
        self.device = resolve_device(device)
        self.rng = seed_everything(self.seed)
        dev = torch.device(self.device)
        self.num_actions = env.num_actions
        self.tokenizer = Tokenizer(self.cfg.tokenizer).to(dev)
        self.world_model = WorldModel(self.cfg.world_model, self.cfg.tokenizer.vocab_size,
                                      self.num_actions, self.tokenizer.tokens_per_frame).to(dev)
        self.actor_critic = ActorCritic(self.cfg.actor_critic, self.num_actions,
                                        self.cfg.tokenizer.resolution).to(dev)
        self.perceptual = load_perceptual_loss(self.cfg.tokenizer.perceptual_weights)
        if self.perceptual is not None:
            self.perceptual.to(dev)
        t = self.cfg.training
        self.opt_tokenizer = torch.optim.Adam(self.tokenizer.parameters(), lr=t.tokenizer_lr)
        self.opt_world_model = configure_optimizer(self.world_model, t.world_model_lr,
                                                   t.world_model_weight_decay)
        self.opt_actor_critic = torch.optim.Adam(self.actor_critic.parameters(), lr=t.actor_critic_lr)
        # seeded generators: imagination/collection sampling, and the evaluation policy
        self.train_gen = torch.Generator(device=dev).manual_seed(self.seed)
        self.act_gen = torch.Generator(device=dev).manual_seed(self.seed + 1)
        self.replay: ReplayBuffer | None = None
        self.token_cache: TokenCache | None = None
        self.epoch = 0
        self.train_only_epochs_done = 0
        self.updates = {"tokenizer": 0, "world_model": 0, "actor_critic": 0}
        self._env = None
        self._obs: np.ndarray | None = None
        self._recent: deque[np.ndarray] = deque(maxlen=self.cfg.actor_critic.burn_in + 1)
        self.config = {
            "preset": self.preset,
            **config_to_dict(self.cfg),
            "perceptual_loss_active": self.perceptual is not None,
        }

    def _validate(self) -> None:
        c = self.cfg
        require_at_least(c, AT_LEAST_ONE)
        if c.actor_critic.imagine_horizon < 2:  # the λ-return loss covers steps 0..H-2
            raise ConfigError(
                f"config key 'actor_critic.imagine_horizon' must be >= 2, got {c.actor_critic.imagine_horizon}"
            )
        for key, value in (("tokenizer.dead_code_reset_until", c.tokenizer.dead_code_reset_until),
                           ("training.tokenizer_stop_after_epochs", c.training.tokenizer_stop_after_epochs)):
            if value < 0:
                raise ConfigError(f"config key {key!r} must be >= 0 (0 = no limit), got {value}")
        if c.actor_critic.burn_in < 0:
            raise ConfigError("config key 'actor_critic.burn_in' must be >= 0")
        for key in ("test_temperature", "collect_temperature", "imagine_temperature"):
            if getattr(c.training, key) <= 0:
                raise ConfigError(f"config key 'training.{key}' must be > 0")
        patch = c.tokenizer.patch_size or c.tokenizer.resolution
        if c.tokenizer.resolution % patch or patch % 2 ** (len(c.tokenizer.ch_mult) - 1):
            raise ConfigError("tokenizer.resolution must be divisible by tokenizer.patch_size, "
                              "and the patch (or frame) by 2^(len(ch_mult)-1)")
        if c.world_model.embed_dim % c.world_model.num_heads:
            raise ConfigError("world_model.embed_dim must be divisible by world_model.num_heads")
        grid = token_grid(c.tokenizer)
        if c.world_model.tokens_per_block != grid * grid + 1:
            raise ConfigError(f"world_model.tokens_per_block must be {grid * grid + 1} "
                              f"(tokens per frame + 1 action token)")

    # -- acting -----------------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> State:
        return self.actor_critic.initial_state(batch_size, self.device)

    @torch.no_grad()
    def _policy(self, observations: np.ndarray, state: State | None, temperature: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, State]:
        self.tokenizer.eval()
        self.actor_critic.eval()
        x = frames_to_tensor(np.asarray(observations), self.device)
        recon = self.tokenizer.reconstruct(x)  # the policy sees reconstructions (reference)
        if state is None:
            state = self.initial_state(x.shape[0])
        logits, _, state = self.actor_critic(recon, state)
        return sample(logits, generator, temperature), logits, state

    def act(self, observations: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        actions, _, state = self._policy(observations, state, self.cfg.training.test_temperature,
                                         self.act_gen)
        return actions.cpu().numpy(), state

    # -- training ---------------------------------------------------------------------------------
    def default_train_steps(self) -> int:
        return TINY_TRAIN_STEPS if self.preset == "tiny" else super().default_train_steps()

    def _ensure_replay(self, env_steps: int) -> None:
        """A buffer that keeps every step of the run (the reference keeps all data); grown,
        not wrapped, when a resumed run trains for longer."""
        if self.replay is not None and self.replay.capacity < env_steps:
            held = self.replay.state_dict()
            self.replay = None
            self._ensure_replay(env_steps)
            assert self.replay is not None
            self.replay.load_state_dict(held)
        if self.replay is None:
            cap = max(int(env_steps), 1)
            self.replay = ReplayBuffer(cap, self.env.observation_shape,
                                       extra_fields={"row": ((), np.int64)})
            self.token_cache = TokenCache(cap, self.tokenizer.tokens_per_frame,
                                          self.cfg.training.token_cache)

    @torch.no_grad()
    def _warm_up(self, frames: list[np.ndarray]) -> State:
        state = self.initial_state(1)
        if not frames:
            return state
        self.tokenizer.eval()
        self.actor_critic.eval()
        x = frames_to_tensor(np.stack(frames), self.device)
        recon = self.tokenizer.reconstruct(x)
        for i in range(recon.shape[0]):
            _, _, state = self.actor_critic(recon[i : i + 1], state)
        return state

    def _collect(self, steps: int) -> dict[str, float]:
        """Play ``steps`` env steps with the training policy (temperature, ε-greedy)."""
        t = self.cfg.training
        assert self.replay is not None
        if self._env is None:
            self._env = self.env.make(seed=self.seed)
            self._obs, _ = self._env.reset(seed=self.seed)
            self._new_episode = True
            self._recent.clear()
            self._recent.append(self._obs)
        # warm the LSTM up on the frames of the episode in progress (the models changed)
        state = self._warm_up(list(self._recent)[:-1])
        returns = []
        for _ in range(steps):
            action_t, _, state = self._policy(self._obs[None], state, t.collect_temperature,
                                              self.train_gen)
            action = int(action_t[0])
            if self.rng.random() < t.collect_epsilon:
                action = int(self.rng.integers(self.num_actions))
            obs, reward, terminated, truncated, info = self._env.step(action)
            life_loss = bool(info.get("life_loss", False)) and t.life_loss_terminal
            self.replay.add(self._obs, action, float(reward), bool(terminated or life_loss),
                            bool(truncated), is_first=self._new_episode, row=self.replay.total_added)
            self._ep_return = getattr(self, "_ep_return", 0.0) + float(reward)
            self._new_episode = False
            if terminated or truncated:
                returns.append(self._ep_return)
                self._ep_return = 0.0
                obs, _ = self._env.reset()
            if terminated or truncated or life_loss:
                # each life is its own episode for learning (EpisodicLife in the reference)
                self._new_episode = True
                self._recent.clear()
                state = self.initial_state(1)
            self._obs = obs
            self._recent.append(obs)
        out = {"collect/episodes": float(len(returns))}
        if returns:
            out["collect/return"] = float(np.mean(returns))
        return out

    def train(self, env_steps: int, progress: Progress | None = None) -> dict[str, Any]:
        t = self.cfg.training
        self._ensure_replay(env_steps)
        assert self.replay is not None and self.token_cache is not None
        monitor = TrainingMonitor(progress, self.work_dir, env_steps, description="iris")
        chunk = t.inference_chunk
        last: dict[str, float] = {}
        try:
            while True:
                plan = plan_epoch(self.cfg, self.epoch + 1, self.env_steps_trained, env_steps,
                                  self.train_only_epochs_done)
                if plan is None:
                    break
                self.epoch += 1
                metrics: dict[str, float] = {"epoch": float(self.epoch)}
                if plan.collect:
                    metrics.update(self._collect(plan.collect))
                    self.env_steps_trained += plan.collect
                else:
                    self.train_only_epochs_done += 1
                step = self.env_steps_trained
                if plan.tokenizer:
                    for i in range(t.tokenizer_steps_per_epoch):
                        x = tokenizer_batch(self.replay, t.tokenizer_batch_size, self.rng, self.device)
                        until = self.cfg.tokenizer.dead_code_reset_until
                        reset = until == 0 or self.updates["tokenizer"] < until
                        last.update(tokenizer_update(self.tokenizer, self.opt_tokenizer, x,
                                                     t.max_grad_norm, self.perceptual, reset))
                        self._count(monitor, "tokenizer", i, step, last)
                    self.token_cache.invalidate()
                if plan.world_model:
                    self.tokenizer.eval()
                    for i in range(t.world_model_steps_per_epoch):
                        b = world_model_batch(self.replay, self.token_cache, self.tokenizer,
                                              t.world_model_batch_size, self.cfg.world_model.max_blocks,
                                              self.rng, chunk)
                        b = {k: v.to(self.device) for k, v in b.items()}
                        last.update(world_model_update(self.world_model, self.opt_world_model,
                                                       b["tokens"], b["actions"], b["rewards"],
                                                       b["ends"], b["mask"], t.max_grad_norm))
                        self._count(monitor, "world_model", i, step, last)
                if plan.actor_critic:
                    for i in range(t.actor_critic_steps_per_epoch):
                        b = actor_critic_batch(self.replay, self.token_cache, self.tokenizer,
                                               t.actor_critic_batch_size, self.cfg.actor_critic.burn_in,
                                               self.rng, chunk)
                        last.update(actor_critic_update(
                            self.actor_critic, self.opt_actor_critic, self.tokenizer, self.world_model,
                            b["tokens"].to(self.device), b["mask"].to(self.device), self.cfg,
                            self.train_gen))
                        self._count(monitor, "actor_critic", i, step, last)
                metrics.update(last)
                monitor.log(step, metrics)
                self.maybe_checkpoint(step)
        finally:
            monitor.close()
        return {"epochs": self.epoch, "env_steps": self.env_steps_trained,
                "updates": dict(self.updates), **{k: v for k, v in last.items()}}

    def _count(self, monitor: TrainingMonitor, component: str, i: int, step: int,
               last: dict[str, float]) -> None:
        self.updates[component] += 1
        monitor.count_updates()
        if (i + 1) % self.cfg.training.log_every == 0:
            monitor.log(step, {"epoch": float(self.epoch),
                               **{k: v for k, v in last.items() if k.startswith(component)}})

    # -- checkpoints --------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        payload: dict[str, Any] = {
            "config": self.config,
            "tokenizer": self.tokenizer.state_dict(),
            "world_model": self.world_model.state_dict(),
            "actor_critic": self.actor_critic.state_dict(),
            "opt_tokenizer": self.opt_tokenizer.state_dict(),
            "opt_world_model": self.opt_world_model.state_dict(),
            "opt_actor_critic": self.opt_actor_critic.state_dict(),
            "epoch": self.epoch,
            "train_only_epochs_done": self.train_only_epochs_done,
            "env_steps_trained": self.env_steps_trained,
            "updates": dict(self.updates),
            "rng": _rng_state(self.rng),
            "train_gen": self.train_gen.get_state(),
            "act_gen": self.act_gen.get_state(),
            "replay": self.replay.state_dict() if self.replay is not None else None,
        }
        save_checkpoint(path, NAME, payload)

    def load_checkpoint(self, path: str | Path) -> None:
        data = load_checkpoint(path, NAME)
        try:
            self.tokenizer.load_state_dict(data["tokenizer"])
            self.world_model.load_state_dict(data["world_model"])
            self.actor_critic.load_state_dict(data["actor_critic"])
            self.opt_tokenizer.load_state_dict(data["opt_tokenizer"])
            self.opt_world_model.load_state_dict(data["opt_world_model"])
            self.opt_actor_critic.load_state_dict(data["opt_actor_critic"])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"checkpoint {str(path)!r} does not match this IRIS "
                                  f"configuration ({first})") from None
        self.epoch = int(data["epoch"])
        self.train_only_epochs_done = int(data["train_only_epochs_done"])
        self.env_steps_trained = int(data["env_steps_trained"])
        self._last_checkpoint_step = self.env_steps_trained
        self.updates = {k: int(v) for k, v in data["updates"].items()}
        self.rng.bit_generator.state = _rng_unstate(data["rng"])
        restore_generator(self.train_gen, data["train_gen"])
        restore_generator(self.act_gen, data["act_gen"])
        if data.get("replay") is not None:
            rep = data["replay"]
            self.replay = None
            self._ensure_replay(int(rep["capacity"]))
            assert self.replay is not None
            self.replay.load_state_dict(rep)
        self._env = None  # an interrupted episode cannot be restored: start a new one

    # -- description --------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        params = {
            "tokenizer": count_parameters(self.tokenizer),
            "world_model": count_parameters(self.world_model),
            "actor_critic": count_parameters(self.actor_critic),
        }
        params["total"] = sum(params.values())
        if self.perceptual is not None:
            params["perceptual_loss_frozen"] = sum(p.numel() for p in self.perceptual.parameters())
        return {"hyperparameters": dict(self.config), "parameters": params}


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
    # 128-bit PCG64 integers as strings: plain values that weights-only loading accepts
    s = rng.bit_generator.state
    return {"bit_generator": s["bit_generator"], "state": str(s["state"]["state"]),
            "inc": str(s["state"]["inc"]), "has_uint32": int(s["has_uint32"]),
            "uinteger": int(s["uinteger"])}


def _rng_unstate(d: dict[str, Any]) -> dict[str, Any]:
    return {"bit_generator": d["bit_generator"],
            "state": {"state": int(d["state"]), "inc": int(d["inc"])},
            "has_uint32": int(d["has_uint32"]), "uinteger": int(d["uinteger"])}


__all__ = ["IrisAgent", "count_parameters"]
