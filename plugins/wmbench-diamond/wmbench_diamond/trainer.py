"""DIAMOND's training schedule (paper App. E, Algorithm 1; reference ``src/trainer.py``).

* Initial collection: the untrained (uniform) policy collects ``initial_collect_min`` steps,
  extended in chunks of 100 until at least ``threshold_rew`` transitions have a reward sign other
  than the majority one (capped at ``initial_collect_max``).
* Every epoch: collect ``env_steps_per_epoch`` (100) real steps with the current policy
  (ε = 0.01), then ``updates_per_epoch`` (400) updates of the denoiser, then of the
  reward/termination model, then of the actor-critic in imagination; epoch 1 uses the
  first-epoch update counts (10k / 10k / 5k) instead.
* After the budget is collected, ``final_epochs`` (50) more epochs train without collecting.

Optimisers: AdamW with a linear warm-up then a constant rate, weight decay only on Linear/Conv/
LSTM weights, gradient-norm clipping per component.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from wmbench_core.learning.checkpoint import restore_generator
from wmbench_diamond.actor_critic import ActorCritic, actor_critic_loss
from wmbench_diamond.configs import DiamondConfig
from wmbench_diamond.data import DiamondDataset
from wmbench_diamond.denoiser import Denoiser
from wmbench_diamond.reward_end_model import RewEndModel
from wmbench_diamond.sampler import DiffusionSampler
from wmbench_diamond.world_model_env import RealEnv, WorldModelEnv, env_loop, imagine

COMPONENTS = ("denoiser", "rew_end", "actor_critic")


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, eps: float) -> torch.optim.AdamW:
    """AdamW; decay only the weights of Linear, Conv and LSTM layers (minGPT-style groups)."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            weighty = isinstance(module, (nn.Linear, nn.Conv2d, nn.LSTM, nn.LSTMCell)) and name.startswith("weight")
            (decay if weighty else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, eps=eps)


def warmup_scheduler(opt: torch.optim.Optimizer, warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up as the reference's ``utils.get_lr_sched``: update s (from 0) runs at
    ``lr * s / warmup_steps`` (so the first at 0: it only fills Adam's moments), then at ``lr``."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / max(1, warmup_steps)))


class DiamondModels(nn.Module):
    def __init__(self, cfg: DiamondConfig, num_actions: int) -> None:
        super().__init__()
        self.denoiser = Denoiser(cfg.denoiser, num_actions)
        self.rew_end = RewEndModel(cfg.rew_end, num_actions, cfg.image_size)
        self.actor_critic = ActorCritic(cfg.actor_critic, num_actions, cfg.image_size)
        if cfg.training.channels_last:  # inference passes only (unet.to_layout)
            for m in (self.denoiser.inner_model, self.rew_end, self.actor_critic):
                m.channels_last = True


class Trainer:
    def __init__(
        self,
        cfg: DiamondConfig,
        models: DiamondModels,
        make_env: Callable[[], Any],
        obs_shape: tuple[int, int, int],
        device: str,
        seed: int,
    ) -> None:
        self.cfg = cfg
        self.models = models
        self.make_env = make_env
        self.device = device
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator(device).manual_seed(seed)
        self.dataset = DiamondDataset(max(cfg.training.initial_collect_max, 1024), obs_shape, cfg.image_size)
        comps = {"denoiser": cfg.denoiser, "rew_end": cfg.rew_end, "actor_critic": cfg.actor_critic}
        self.optimizers = {
            k: make_optimizer(getattr(models, k), c.lr, c.weight_decay, c.eps) for k, c in comps.items()
        }
        self.schedulers = {k: warmup_scheduler(self.optimizers[k], c.warmup_steps) for k, c in comps.items()}
        self.sampler = DiffusionSampler(models.denoiser, cfg.sampler)
        self.wm_env = WorldModelEnv(
            self.sampler, models.rew_end, self.sample_contexts, cfg.actor_critic.batch_size,
            cfg.actor_critic.horizon, self.gen,
        )
        # schedule state (checkpointed)
        self.epoch = 0
        self.final_epochs_done = 0
        self.env_steps = 0
        self.num_updates = dict.fromkeys(COMPONENTS, 0)
        # real-env collection state (not checkpointed: a resumed run starts a new episode)
        self._real: RealEnv | None = None
        self._obs: torch.Tensor | None = None
        self._state: Any = None
        self._next_is_first = True

    # -- data ---------------------------------------------------------------------------
    def sample_contexts(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n real initial conditions: L frames ending near a recency-weighted step, left-padded."""
        L = self.cfg.denoiser.num_steps_conditioning
        first, owner = self.dataset.sample_windows(n, L, self.rng, self.cfg.training.sample_weights)
        seg = self.dataset.segments(first, L, owner, self.rng, self.device)
        return seg["obs"], seg["act"]

    def denoiser_batch(self) -> dict[str, torch.Tensor]:
        c = self.cfg.denoiser
        T = c.num_steps_conditioning + 1 + c.num_autoregressive_steps
        first, owner = self.dataset.sample_windows(
            c.batch_size, T, self.rng, self.cfg.training.sample_weights, with_final=c.train_on_final_obs
        )
        return self.dataset.segments(first, T, owner, self.rng, self.device)

    def rew_end_batch(self) -> dict[str, torch.Tensor]:
        c = self.cfg.rew_end
        first, owner = self.dataset.sample_windows(
            c.batch_size, c.seq_length, self.rng, self.cfg.training.sample_weights, pad_end=True
        )
        return self.dataset.segments(first, c.seq_length, owner, self.rng, self.device)

    # -- updates ------------------------------------------------------------------------
    def _step(self, name: str, loss: torch.Tensor | None, max_norm: float) -> float:
        """Backward (unless ``loss`` is None: gradients already there), clip, step."""
        opt = self.optimizers[name]
        if loss is not None:
            opt.zero_grad(set_to_none=True)
            loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(getattr(self.models, name).parameters(), max_norm)
        opt.step()
        self.schedulers[name].step()
        self.num_updates[name] += 1
        return float(norm)

    def update_denoiser(self) -> dict[str, float]:
        b = self.denoiser_batch()
        self.optimizers["denoiser"].zero_grad(set_to_none=True)
        loss = self.models.denoiser.compute_loss(b["obs"], b["act"], b["mask"], self.gen, backward=True)
        norm = self._step("denoiser", None, self.cfg.denoiser.max_grad_norm)
        return {"denoiser/loss": loss.item(), "denoiser/grad_norm": norm}

    def update_rew_end(self) -> dict[str, float]:
        b = self.rew_end_batch()
        pair_mask = b["mask"][:, :-1] & b["mask"][:, 1:]
        loss, metrics = self.models.rew_end.compute_loss(
            b["obs"][:, :-1], b["act"][:, :-1], b["obs"][:, 1:], b["rew"][:, :-1], b["end"][:, :-1], pair_mask
        )
        norm = self._step("rew_end", loss, self.cfg.rew_end.max_grad_norm)
        return {"rew_end/loss": loss.item(), "rew_end/grad_norm": norm, **metrics}

    def update_actor_critic(self) -> dict[str, float]:
        traj = imagine(self.wm_env, self.models.actor_critic, self.gen)
        loss, metrics = actor_critic_loss(
            traj["logits"], traj["values"], traj["act"], traj["rew"], traj["end"], self.cfg.actor_critic
        )
        norm = self._step("actor_critic", loss, self.cfg.actor_critic.max_grad_norm)
        metrics["actor_critic/imagined_reward"] = traj["rew"].sum(0).mean().item()
        return {"actor_critic/loss": loss.item(), "actor_critic/grad_norm": norm, **metrics}

    # -- real environment -----------------------------------------------------------------
    def collect(self, num_steps: int) -> None:
        """Real steps with the current policy (ε-greedy sampling), stored in the dataset."""
        if self._real is None:
            self._real = RealEnv([self.make_env()], lambda f: self.dataset.to_tensor(f, self.device),
                                 self.seed, self.cfg.training.done_on_life_loss)
            self._obs, _ = self._real.reset()
            self._state = self.models.actor_critic.initial_state(1, self.device)
            self._next_is_first = True

        def store(act: torch.Tensor, rew: torch.Tensor, end: torch.Tensor, trunc: torch.Tensor, info: dict) -> None:
            over = bool(end[0] or trunc[0])
            self.dataset.add(
                info["prev_frames"][0], int(act[0]), float(rew[0]), bool(end[0]), bool(trunc[0]),
                self._next_is_first, info["final_observation"][0] if over else None,
            )
            self._next_is_first = over
            self.env_steps += 1

        with torch.no_grad():
            _, self._obs, self._state = env_loop(
                self._real, self.models.actor_critic, self._obs, self._state, num_steps, self.gen,
                self.cfg.actor_critic.temperature, self.cfg.training.collect_epsilon, on_step=store,
            )

    def initial_collection(self, budget: int) -> None:
        t = self.cfg.training
        target = min(t.initial_collect_min, budget)
        self.collect(target - self.env_steps)
        cap = min(t.initial_collect_max, budget)
        while self.env_steps < cap:
            counts = self.dataset.reward_class_counts()
            if counts.sum() - counts.max() >= t.threshold_rew:
                break
            self.collect(min(t.collect_chunk, cap - self.env_steps))

    # -- schedule -----------------------------------------------------------------------
    def train_components(self, first: bool, log: Callable[[dict[str, float]], None]) -> None:
        t = self.cfg.training
        counts = {
            "denoiser": t.first_epoch_updates_denoiser if first else t.updates_per_epoch,
            "rew_end": t.first_epoch_updates_rew_end if first else t.updates_per_epoch_rew_end or t.updates_per_epoch,
            "actor_critic": t.first_epoch_updates_actor_critic if first
            else t.updates_per_epoch_actor_critic or t.updates_per_epoch,
        }
        update = {"denoiser": self.update_denoiser, "rew_end": self.update_rew_end,
                  "actor_critic": self.update_actor_critic}
        log_every = max(1, min(100, t.updates_per_epoch))
        for name in COMPONENTS:
            sums: dict[str, float] = defaultdict(float)
            k = 0
            for i in range(counts[name]):
                for key, v in update[name]().items():
                    sums[key] += v
                k += 1
                if k == log_every or i == counts[name] - 1:
                    log({key: v / k for key, v in sums.items()})
                    sums.clear()
                    k = 0

    def run(self, budget: int, log: Callable[[dict[str, float]], None], on_epoch_end: Callable[[], None]) -> None:
        """Run epochs until ``budget`` env steps are collected and the final epochs are done.

        As the reference's ``Trainer.run``: after the initial collection, every epoch first
        collects ``env_steps_per_epoch`` steps (epoch 1 included) while the budget lasts, then
        trains; epoch 1 trains with the first-epoch update counts."""
        t = self.cfg.training
        if self.epoch == 0:
            self.initial_collection(budget)
        while True:
            if self.env_steps < budget:
                self.collect(min(t.env_steps_per_epoch, budget - self.env_steps))
            elif self.final_epochs_done < t.final_epochs:
                self.final_epochs_done += 1
            else:
                break
            self.epoch += 1
            self.train_components(first=self.epoch == 1, log=log)
            on_epoch_end()

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "models": self.models.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "epoch": self.epoch,
            "final_epochs_done": self.final_epochs_done,
            "env_steps": self.env_steps,
            "num_updates": dict(self.num_updates),
            "dataset": self.dataset.state_dict(),
            "torch_generator": self.gen.get_state(),
            # numpy's PCG64 state has 128-bit ints: store it as text for weights_only loading
            "numpy_rng": repr(self.rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import ast

        self.models.load_state_dict(state["models"])
        for k in COMPONENTS:
            self.optimizers[k].load_state_dict(state["optimizers"][k])
            self.schedulers[k].load_state_dict(state["schedulers"][k])
        self.epoch = int(state["epoch"])
        self.final_epochs_done = int(state["final_epochs_done"])
        self.env_steps = int(state["env_steps"])
        self.num_updates = {k: int(v) for k, v in state["num_updates"].items()}
        self.dataset.load_state_dict(state["dataset"])
        restore_generator(self.gen, state["torch_generator"])
        self.rng.bit_generator.state = ast.literal_eval(state["numpy_rng"])
        self._real = None
