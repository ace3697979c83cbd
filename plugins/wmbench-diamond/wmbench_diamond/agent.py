"""The wmbench agent: DIAMOND's three models, its schedule, checkpoints and the policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from wmbench_core.agent import Agent, CheckpointError, Progress
from wmbench_core.learning.checkpoint import load_checkpoint, restore_generator, save_checkpoint
from wmbench_core.learning.config import config_to_dict
from wmbench_core.learning.device import resolve_device, seed_everything
from wmbench_core.learning.monitor import TrainingMonitor
from wmbench_diamond.configs import TINY_TRAIN_STEPS, make_config
from wmbench_diamond.trainer import COMPONENTS, DiamondModels, Trainer
from wmbench_diamond.world_model_env import WorldModelEnv, save_imagined_rollout


class DiamondAgent(Agent):
    name = "diamond"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cfg, self.preset = make_config(self.preset, self.config, self.env.game)
        self.cfg = cfg
        self.config = config_to_dict(cfg)
        self.device = resolve_device(self.device)
        if cfg.training.num_threads > 0:
            torch.set_num_threads(cfg.training.num_threads)
        seed_everything(self.seed)
        self.num_actions = self.env.num_actions
        self.models = DiamondModels(cfg, self.num_actions).to(self.device)
        self.trainer = Trainer(
            cfg, self.models, lambda: self.env.make(seed=self.seed), tuple(self.env.observation_shape),
            self.device, self.seed,
        )
        # the evaluation policy's own generator: same seed -> same actions
        self._act_gen = torch.Generator(self.device).manual_seed(self.seed + 1)

    # -- policy ---------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.models.actor_critic.initial_state(batch_size, self.device)

    @torch.no_grad()
    def act(self, observations: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        from wmbench_diamond.actor_critic import sample_actions

        if state is None:
            state = self.initial_state(len(observations))
        obs = self.trainer.dataset.to_tensor(np.asarray(observations), self.device)
        logits, _, state = self.models.actor_critic(obs, state)
        act = sample_actions(logits, self._act_gen, self.cfg.actor_critic.temperature)
        return act.cpu().numpy(), state

    # -- training -------------------------------------------------------------------------
    def default_train_steps(self) -> int:
        if self.preset == "tiny":
            return TINY_TRAIN_STEPS
        return super().default_train_steps()

    def train(self, env_steps: int, progress: Progress | None = None) -> dict[str, Any]:
        if env_steps < 1:
            raise ValueError("env_steps must be >= 1")
        monitor = TrainingMonitor(progress, self.work_dir, env_steps, description="diamond")
        tr = self.trainer

        def log(metrics: dict[str, float]) -> None:
            monitor.log(tr.env_steps, {"epoch": tr.epoch, **metrics})

        def on_epoch_end() -> None:
            self.env_steps_trained = tr.env_steps
            self.maybe_checkpoint(tr.env_steps)

        try:
            tr.run(env_steps, log, on_epoch_end)
        finally:
            monitor.close()
        self.env_steps_trained = tr.env_steps
        summary: dict[str, Any] = {
            "epochs": tr.epoch,
            "env_steps": tr.env_steps,
            "updates": dict(tr.num_updates),
            "episodes_collected": int(tr.dataset.buffer.num_episodes),
        }
        if self.work_dir is not None and self.cfg.training.gif_steps > 0 and len(tr.dataset) > 0:
            path = self.save_imagined_rollout(self.work_dir / "imagined_rollout", self.cfg.training.gif_steps)
            summary["imagined_rollout"] = str(path)
        return summary

    def save_imagined_rollout(self, path: str | Path, num_steps: int = 20) -> Path:
        """A clip of the policy playing inside the world model (GIF, or PNGs without Pillow)."""
        tr = self.trainer
        env = WorldModelEnv(tr.sampler, self.models.rew_end, tr.sample_contexts, 1, num_steps + 1, tr.gen)
        return save_imagined_rollout(env, self.models.actor_critic, path, num_steps, tr.gen)

    # -- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> None:
        save_checkpoint(path, self.name, {
            "config": self.config,
            "preset": self.preset,
            "seed": self.seed,
            "env_steps": self.trainer.env_steps,
            "trainer": self.trainer.state_dict(),
            "act_generator": self._act_gen.get_state(),
        })

    def load_checkpoint(self, path: str | Path) -> None:
        data = load_checkpoint(path, self.name)
        if "trainer" not in data:
            raise CheckpointError(f"checkpoint {str(path)!r} has no DIAMOND training state")
        if data.get("config") != self.config:
            raise CheckpointError(
                f"checkpoint {str(path)!r} was made with a different config (preset "
                f"{data.get('preset')!r}); rerun with the same --preset/--set"
            )
        try:
            self.trainer.load_state_dict(data["trainer"])
        except (KeyError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} does not fit this agent ({type(exc).__name__})") from None
        restore_generator(self._act_gen, data["act_generator"])
        self.env_steps_trained = int(data["env_steps"])

    def describe(self) -> dict[str, Any]:
        params = {k: sum(p.numel() for p in getattr(self.models, k).parameters()) for k in COMPONENTS}
        params["total"] = sum(params.values())
        return {"hyperparameters": self.config, "parameters": params}
