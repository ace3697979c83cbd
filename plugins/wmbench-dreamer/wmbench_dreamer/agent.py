"""The wmbench agents: :class:`DreamerV3Agent`, :class:`DreamerV2Agent`, :class:`DreamerV1Agent`.

They share everything but their config class (see :mod:`.configs`): one world model, one
actor-critic, one training loop. Acting samples from the policy while training; at evaluation
V3 samples and V1/V2 take the policy's mode (``eval_sample``, as each paper's code does). The
samples come from a ``torch.Generator`` seeded from the agent's seed, so a seed gives the same
actions on CPU. The recurrent state handed to ``act`` is ``(deter, stoch, prev_action)``, each
with the batch on dim 0.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from wmbench_core.agent import Agent, CheckpointError, ConfigError, Progress
from wmbench_core.learning import checkpoint as ckpt
from wmbench_core.learning.allocator import tune_malloc
from wmbench_core.learning.config import resolve_config
from wmbench_core.learning.device import resolve_device, seed_everything
from wmbench_core.learning.monitor import TrainingMonitor, check_finite
from wmbench_core.learning.replay import ReplayBuffer
from wmbench_dreamer.actor_critic import ActorCritic
from wmbench_dreamer.configs import CONFIG_CLASSES, PRESETS, DreamerConfig, validate
from wmbench_dreamer.distributions import sample_onehot
from wmbench_dreamer.networks import count_parameters, init_weights
from wmbench_dreamer.training import Trainer, UpdateSchedule
from wmbench_dreamer.world_model import WorldModel

#: config keys that change parameter shapes: a checkpoint must agree on them
_ARCH_KEYS = (
    "version", "deter", "hidden", "stoch", "classes", "cnn_depth", "cnn_style", "image_size",
    "norm", "gru", "initial_state", "grayscale", "reward_head", "reward_layers",
    "cont_layers", "actor_layers", "critic_layers", "head_units", "critic_head", "twohot_bins",
)  # fmt: skip


class DreamerAgent(Agent):
    name = "dreamer"
    version = 3

    def __init__(
        self,
        *,
        env: Any,
        preset: str | None = None,
        device: str = "cpu",
        seed: int = 0,
        work_dir: str | Path | None = None,
        **config_overrides: Any,
    ) -> None:
        super().__init__(env=env, preset=preset, device=device, seed=seed, work_dir=work_dir)
        presets = PRESETS[self.version]
        self.preset = preset or next(iter(presets))
        self.cfg: DreamerConfig = resolve_config(CONFIG_CLASSES[self.version], presets, self.preset, config_overrides)
        if self.cfg.version != self.version:
            raise ConfigError(f"config key 'version' is fixed by the agent ({self.name}: {self.version}); "
                              f"use --agent dreamerv{self.cfg.version} instead")
        validate(self.cfg)
        self.config = self.cfg.to_dict()
        self.config["preset"] = self.preset
        self.device = resolve_device(device)
        seed_everything(self.seed)
        self.num_actions = int(env.num_actions)
        cfg = self.cfg
        self.wm = WorldModel(cfg, self.num_actions)
        self.ac = ActorCritic(cfg, self.wm.feat_dim, self.num_actions)
        init_weights(self.wm)
        init_weights(self.ac)
        self.ac.slow_critic.load_state_dict(self.ac.critic.state_dict())
        self.wm.to(self.device)
        self.ac.to(self.device)
        self.trainer = Trainer(cfg, self.wm, self.ac, self.device)
        self.schedule = UpdateSchedule(cfg.train_ratio, cfg.batch_size, cfg.seq_len)
        self.replay: ReplayBuffer | None = None
        # separate streams: acting (evaluation/collection) and training samples
        self.act_generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.train_generator = torch.Generator(device=self.device).manual_seed(self.seed + 1)
        self.rng = np.random.default_rng(self.seed)
        self.episodes_trained = 0

    # -- acting --------------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            init = self.wm.rssm.initial(batch_size, self.device)
        action = torch.zeros(batch_size, self.num_actions, device=self.device)
        return (init["deter"].clone(), init["stoch"].clone(), action)

    def act(self, observations: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """The evaluation policy: a sampled action (V3) or the actor's mode (V1, V2), as each
        paper's code evaluates (config ``eval_sample``)."""
        return self.policy(observations, state, sample=self.cfg.eval_sample)

    @torch.no_grad()
    def policy(self, observations: np.ndarray, state: Any, sample: bool = True) -> tuple[np.ndarray, Any]:
        """Filter the observations into the model state and pick actions: sampled from the actor
        (``sample``; always while collecting) or its most probable action."""
        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        obs = np.asarray(observations)
        if state is None:
            state = self.initial_state(len(obs))
        deter, stoch, prev_action = state
        images = self.wm.preprocess(torch.as_tensor(obs, device=self.device))
        embed_proj = self.wm.rssm.obs_embed(self.wm.encoder(images))
        post = self.wm.rssm.obs_step({"deter": deter, "stoch": stoch}, prev_action, embed_proj, self.act_generator)
        logp = self.ac.actor(self.wm.rssm.features(post))
        if sample:
            action = sample_onehot(logp, self.act_generator)
        else:
            action = F.one_hot(logp.argmax(-1), self.num_actions).to(logp.dtype)
        return action.argmax(-1).cpu().numpy(), (post["deter"], post["stoch"], action)

    # -- training ------------------------------------------------------------------------------
    def default_train_steps(self) -> int:
        return self.cfg.train_steps or super().default_train_steps()

    def _explore(self, step: int) -> bool:
        """Epsilon-greedy exploration while collecting (DreamerV1's ``_exploration``): with
        probability epsilon the sampled action is replaced by a uniformly random one."""
        cfg = self.cfg
        if cfg.expl != "epsilon_greedy":
            return False
        amount = cfg.expl_amount * (0.5 ** (step / cfg.expl_decay) if cfg.expl_decay else 1.0)
        return bool(self.rng.random() < max(cfg.expl_min, amount))

    def _make_replay(self, env_steps: int) -> ReplayBuffer:
        # room for every step plus the stored terminal frames (one per episode); never more
        # than the configured capacity (uniform replay over a ring buffer beyond it)
        rows = int(env_steps * 1.15) + 2 * self.cfg.seq_len + 1000
        return ReplayBuffer(min(self.cfg.replay_capacity, rows), self.env.observation_shape)

    def train(self, env_steps: int, progress: Progress | None = None) -> dict[str, Any]:
        cfg = self.cfg
        tune_malloc()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if self.replay is None:
            self.replay = self._make_replay(env_steps)
        warm = max(min(cfg.prefill, self.replay.capacity), cfg.seq_len + 2)
        monitor = TrainingMonitor(progress, self.work_dir, env_steps, description=self.name)
        env = self.env.make(seed=self.seed)
        step = self.env_steps_trained
        start_step = step
        t0 = time.perf_counter()
        obs, _ = env.reset(seed=self.seed + step)
        state = self.initial_state(1)
        reward, is_first = 0.0, True
        ep_return, returns = 0.0, []
        sums: dict[str, float] = {}
        count = 0
        try:
            while step < env_steps:
                action_arr, state = self.policy(obs[None], state, sample=True)
                action = int(action_arr[0])
                if step < cfg.prefill or self._explore(step):  # uniform random action
                    action = int(self.rng.integers(self.num_actions))
                    onehot = F.one_hot(torch.tensor([action]), self.num_actions).float()
                    state = (state[0], state[1], onehot.to(self.device))
                self.replay.add(obs, action, reward, False, False, is_first)
                obs, reward, terminated, truncated, info = env.step(action)
                reward = float(reward)
                ep_return += reward
                step += 1
                is_first = False
                life_lost = cfg.life_loss_terminal and bool(info.get("life_loss", False))
                if terminated or truncated or life_lost:
                    # the terminal frame gets its own row (the continue head learns 0 there); after
                    # a lost life the game goes on from that frame as a new sequence
                    self.replay.add(obs, 0, reward, bool(terminated or life_lost), bool(truncated), False)
                    reward, is_first = 0.0, True
                    state = self.initial_state(1)
                    if terminated or truncated:
                        returns.append(ep_return)
                        self.episodes_trained += 1
                        ep_return = 0.0
                        obs, _ = env.reset()
                # learning starts after the prefill; a run resumed without its replay (not in
                # the checkpoint by default) first refills it to the prefill size, acting with
                # the trained policy and without owing updates for those steps
                if step >= cfg.prefill and len(self.replay) >= warm:
                    for _ in range(self.schedule.step()):
                        metrics = self.trainer.update(self.replay, self.rng, self.train_generator)
                        check_finite(metrics, step)
                        monitor.count_updates()
                        for k, v in metrics.items():
                            sums[k] = sums.get(k, 0.0) + v
                        count += 1
                self.env_steps_trained = step
                if step % cfg.log_every == 0 or step == env_steps:
                    logged = {k: v / count for k, v in sums.items()} if count else {}
                    if returns:
                        logged["train/episode_return"] = float(np.mean(returns[-20:]))
                    logged["train/updates"] = float(self.trainer.updates)
                    monitor.log(step, logged)
                    sums, count = {}, 0
                self.maybe_checkpoint(step)
        finally:
            env.close()
            monitor.close()
        return {
            "env_steps": step - start_step,
            "updates": self.trainer.updates,
            "episodes": len(returns),
            "mean_train_return_last20": float(np.mean(returns[-20:])) if returns else None,
            "seconds": time.perf_counter() - t0,
        }

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        payload: dict[str, Any] = {
            "config": self.config,
            "world_model": self.wm.state_dict(),
            "actor_critic": self.ac.state_dict(),  # includes slow critic and return-norm stats
            "optimizers": self.trainer.state_dict(),
            "env_steps_trained": self.env_steps_trained,
            "episodes_trained": self.episodes_trained,
            "update_credit": self.schedule.credit,
            "act_generator": self.act_generator.get_state(),
            "train_generator": self.train_generator.get_state(),
            "numpy_rng": self.rng.bit_generator.state,
        }
        if self.cfg.checkpoint_replay and self.replay is not None:
            payload["replay"] = self.replay.state_dict()
        ckpt.save_checkpoint(path, self.name, payload)

    def load_checkpoint(self, path: str | Path) -> None:
        data = ckpt.load_checkpoint(path, self.name)
        saved = data.get("config", {})
        diff = [k for k in _ARCH_KEYS if saved.get(k) != self.config.get(k)]
        if diff:
            pairs = ", ".join(f"{k}={saved.get(k)!r} (here {self.config.get(k)!r})" for k in diff)
            raise CheckpointError(f"checkpoint {str(path)!r} has another architecture: {pairs}")
        try:
            self.wm.load_state_dict(data["world_model"])
            self.ac.load_state_dict(data["actor_critic"])
            self.trainer.load_state_dict(data["optimizers"])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise CheckpointError(f"checkpoint {str(path)!r} does not fit this agent: {first}") from None
        self.env_steps_trained = int(data["env_steps_trained"])
        self._last_checkpoint_step = self.env_steps_trained
        self.episodes_trained = int(data.get("episodes_trained", 0))
        self.schedule.credit = float(data.get("update_credit", 0.0))
        ckpt.restore_generator(self.act_generator, data["act_generator"])
        ckpt.restore_generator(self.train_generator, data["train_generator"])
        self.rng.bit_generator.state = data["numpy_rng"]
        if "replay" in data:
            rep = data["replay"]
            self.replay = ReplayBuffer(int(rep["capacity"]), self.env.observation_shape)
            self.replay.load_state_dict(rep)

    # -- description ---------------------------------------------------------------------------
    def parameter_counts(self) -> dict[str, int]:
        wm, ac = self.wm, self.ac
        counts = {
            "encoder": count_parameters(wm.encoder),
            "rssm": count_parameters(wm.rssm),
            "decoder": count_parameters(wm.decoder),
            "reward_head": count_parameters(wm.reward),
            "continue_head": count_parameters(wm.cont),
            "actor": count_parameters(ac.actor),
            "critic": count_parameters(ac.critic),
        }
        counts["world_model"] = count_parameters(wm)
        counts["total"] = counts["world_model"] + counts["actor"] + counts["critic"]
        counts["slow_critic (EMA copy, not in total)"] = count_parameters(ac.slow_critic)
        return counts

    def describe(self) -> dict[str, Any]:
        return {
            "hyperparameters": dict(self.config),
            "parameters": self.parameter_counts(),
            "recipe": self.__class__.__doc__.strip().splitlines()[0],
        }


class DreamerV3Agent(DreamerAgent):
    """DreamerV3, 2023 recipe (arXiv v1, code 8fa35f8), size S for Atari 100k."""

    name = "dreamerv3"
    version = 3


class DreamerV2Agent(DreamerAgent):
    """DreamerV2 (ICLR 2021), Atari configuration."""

    name = "dreamerv2"
    version = 2


class DreamerV1Agent(DreamerAgent):
    """DreamerV1 (ICLR 2020), discrete-action (Atari) variant with a categorical actor."""

    name = "dreamerv1"
    version = 1
