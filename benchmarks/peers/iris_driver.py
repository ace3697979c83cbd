"""Peer driver: times the reference IRIS (eloialonso/iris @ 24326aa) for bench_iris.py.

What it times (protocol of shared/research/peer-timings.md §2; seconds per call, wall clock):

- ``tokenizer``: one update = the body of the repo's ``Trainer.train_component`` with
  ``grad_acc_steps = 1``: ``optimizer.zero_grad``, ``EpisodesDataset.sample_batch`` (256 x 1 frame,
  from start), ``Tokenizer.compute_loss``, backward, grad-norm clip 10, Adam step. The perceptual
  (LPIPS) term is disabled: ``tokenizer.lpips`` returns 0 (LPIPS would download VGG16 weights).
- ``world_model``: the same for ``WorldModel.compute_loss`` (64 x 20 frames, including the no-grad
  ``tokenizer.encode`` of all 1280 frames), AdamW from ``utils.configure_optimizer``; tokenizer in
  eval mode, as in ``Trainer.train_agent``.
- ``actor_critic``: the same for ``ActorCritic.compute_loss`` (64 x 21 frames: burn-in 20 through
  ``tokenizer.encode_decode``, then 20 imagined steps in the repo's ``WorldModelEnv``); tokenizer and
  world model in eval mode.
- ``imagined_frame``: seconds per imagined frame batch, like bench_iris.py times ours: a
  ``WorldModelEnv`` reset from 64 x 16 random start tokens (the repo's
  ``refresh_keys_values_with_initial_obs_tokens`` + ``decode_obs_tokens``, i.e.
  ``reset_from_initial_observations`` without its frame encoding) followed by 19
  ``WorldModelEnv.step`` calls (17 KV-cached GPT passes + tokenizer decode each); total / 19.

Models and optimizers come from the repo's own YAMLs (``config/trainer.yaml`` and its defaults)
through ``hydra.compose`` and the repo's ``instantiate`` targets; 4 actions (Breakout). Data: 8
synthetic episodes x 1000 random 64x64x3 uint8 frames in RAM, in the repo's
``EpisodesDatasetRamMonitoring`` / ``Episode`` classes (random rewards in {-1, 0, 1}, ``ends`` on
the last step), sampled with the repo's ``sample_batch``. Untrained models; fp32, eager, CPU.

Usage (this is how bench_iris.py runs it, with ``sys.executable`` and the allocator environment
of the setting being measured)::

    python iris_driver.py THREADS WARMUP TIMED [ITEM[:WARMUP:TIMED] ...]

No item means all four with the global WARMUP/TIMED. Progress goes to stderr; the LAST stdout line
is one JSON object ``{item: {"median": s, "min": s, "max": s, "times": [...], "n": "w+t",
"batch_size": b, ...}}``. If the running Python is not the reference venv's, the script re-executes
itself under ``$PEER_PYTHON`` (default /work/peers/iris-venv/bin/python) with the same environment
(so ``MALLOC_*`` settings given by the caller apply; this driver sets none itself).

Environment variables:
    IRIS_REPO         reference work tree (default /work/peers/iris)
    PEER_PYTHON       Python of the reference venv (default /work/peers/iris-venv/bin/python)
    PEER_BATCH_SCALE  multiply every batch size by this (default 1; e.g. 0.125 for a smoke test)

Setup of the reference (outside this repository; nothing of it is committed here)::

    # work tree at the pinned commit, from a bare clone of github.com/eloialonso/iris
    # (assets/ holds large files that may be absent from a mirror: leave it out)
    mkdir -p /work/peers/iris
    git --git-dir=IRIS_BARE_GIT archive 24326aaaa283c527f42b89b44cfdecf2665a7a16 \\
        LICENSE README.md config requirements.txt results scripts src | tar -x -C /work/peers/iris
    python3 -m venv /work/peers/iris-venv
    /work/peers/iris-venv/bin/pip install torch==2.13.0          # first: the CPU wheel on local disk
    /work/peers/iris-venv/bin/pip install hydra-core==1.3.2 numpy einops gym==0.26.2 \\
        opencv-python-headless psutil pillow requests tqdm

Versions used: torch 2.13.0+cpu, hydra-core 1.3.2 (omegaconf 2.3.1, configs composed with
``version_base="1.1"``), numpy 2.4.6, einops 0.8.2, gym 0.26.2 (only so ``envs/`` imports; no gym
env is created), opencv-python-headless 5.0.0.93, psutil 7.2.2, pillow 13.0.0, requests 2.34.2,
tqdm 4.70.1. Never torchvision (PyPI's wheel does not import beside torch 2.13.0 CPU).

Shims (in this driver only; the reference files are unmodified): if ``torchvision`` does not import,
a stand-in module provides ``transforms.functional.to_tensor`` and a ``models.vgg16`` that refuses
(the tokenizer is built with ``with_lpips=False`` and given a zero perceptual loss); ``wandb`` is
stubbed if not installed. No reference code is in this repository: this driver only imports the
reference modules from ``$IRIS_REPO/src``.
"""

from __future__ import annotations

import os
import sys
import time
import types

from driver_common import batch_scale, parse_args, print_results, reexec_under, scaled, summary, time_calls

REPO = os.environ.get("IRIS_REPO", "/work/peers/iris")
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/work/peers/iris-venv/bin/python")
ITEMS = ("tokenizer", "world_model", "actor_critic", "imagined_frame")
NUM_ACTIONS = 4
EPISODES, EPISODE_LENGTH = 8, 1000
IMAGINED_STEPS = 19


def _log(msg: str) -> None:
    print(f"[iris peer] {msg}", file=sys.stderr, flush=True)


def _install_shims() -> None:
    try:
        import torchvision  # noqa: F401
    except Exception:  # missing, or PyPI's CUDA-linked wheel failing beside the CPU torch
        import torch

        def to_tensor(pic):
            import numpy as np

            a = np.asarray(pic)
            a = a[:, :, None] if a.ndim == 2 else a
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div(255)

        def vgg16(*args, **kwargs):
            raise RuntimeError("torchvision stand-in: VGG16/LPIPS is disabled in this driver")

        tv = types.ModuleType("torchvision")
        tv.models = types.ModuleType("torchvision.models")
        tv.models.vgg16 = vgg16
        tv.transforms = types.ModuleType("torchvision.transforms")
        tv.transforms.functional = types.ModuleType("torchvision.transforms.functional")
        tv.transforms.functional.to_tensor = to_tensor
        for mod in (tv, tv.models, tv.transforms, tv.transforms.functional):
            sys.modules[mod.__name__] = mod
    try:
        import wandb  # noqa: F401
    except ImportError:
        sys.modules["wandb"] = types.ModuleType("wandb")


def main() -> None:
    usage = __doc__.split("\n\n")[0] + "\nusage: iris_driver.py THREADS WARMUP TIMED [ITEM[:W:T] ...]"
    threads, plan = parse_args(sys.argv[1:], ITEMS, usage)
    reexec_under(PEER_PYTHON, __file__)
    scale = batch_scale()
    print_results(lambda: run(threads, plan, scale))


def run(threads: int, plan: list[tuple[str, int, int]], scale: float) -> dict:
    import random
    import warnings

    import torch
    import torch.nn as nn

    warnings.simplefilter("ignore")
    torch.set_num_threads(threads)
    _install_shims()
    sys.path.insert(0, os.path.join(REPO, "src"))

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    # isort: split
    # the reference modules, from $REPO/src
    from agent import Agent
    from envs.world_model_env import WorldModelEnv
    from episode import Episode
    from models.actor_critic import ActorCritic
    from models.world_model import WorldModel
    from utils import configure_optimizer, set_seed

    set_seed(0)
    random.seed(0)
    with initialize_config_dir(config_dir=os.path.join(REPO, "config"), version_base="1.1"):
        cfg = compose(config_name="trainer")
    OmegaConf.resolve(cfg)
    device = torch.device("cpu")  # config says cuda:0; this machine has no GPU

    class NoPerceptualLoss(nn.Module):
        """Stands in for LPIPS: a zero perceptual loss, so compute_loss is otherwise unchanged."""

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return torch.zeros(x.size(0), 1, 1, 1, device=x.device)

    tokenizer = instantiate(cfg.tokenizer, with_lpips=False)
    tokenizer.lpips = NoPerceptualLoss()
    world_model = WorldModel(obs_vocab_size=tokenizer.vocab_size, act_vocab_size=NUM_ACTIONS,
                             config=instantiate(cfg.world_model))
    actor_critic = ActorCritic(**cfg.actor_critic, act_vocab_size=NUM_ACTIONS)
    agent = Agent(tokenizer, world_model, actor_critic).to(device)
    lr = cfg.training.learning_rate
    opt = {
        "tokenizer": torch.optim.Adam(agent.tokenizer.parameters(), lr=lr),
        "world_model": configure_optimizer(agent.world_model, lr, cfg.training.world_model.weight_decay),
        "actor_critic": torch.optim.Adam(agent.actor_critic.parameters(), lr=lr),
    }
    params = {n: sum(p.numel() for p in getattr(agent, n).parameters()) for n in opt}
    _log(f"{sys.executable}: torch {torch.__version__}, {threads} threads, batch scale {scale}, parameters {params}")

    # Synthetic data: 8 episodes x 1000 random frames, in RAM.
    t0 = time.perf_counter()
    dataset = instantiate(cfg.datasets.train)
    gen = torch.Generator().manual_seed(0)
    for _ in range(EPISODES):
        ends = torch.zeros(EPISODE_LENGTH, dtype=torch.long)
        ends[-1] = 1
        dataset.add_episode(Episode(
            observations=torch.randint(0, 256, (EPISODE_LENGTH, 3, 64, 64), dtype=torch.uint8, generator=gen),
            actions=torch.randint(0, NUM_ACTIONS, (EPISODE_LENGTH,), generator=gen),
            rewards=torch.randint(-1, 2, (EPISODE_LENGTH,), generator=gen).float(),
            ends=ends,
            mask_padding=torch.ones(EPISODE_LENGTH, dtype=torch.bool),
        ))
    _log(f"{len(dataset)} episodes, {dataset.num_steps} steps built in {time.perf_counter() - t0:.1f} s")

    t = cfg.training
    seq = {"tokenizer": (1, True), "world_model": (cfg.common.sequence_length, True),
           "actor_critic": (1 + t.actor_critic.burn_in, False)}
    extra = {"tokenizer": {}, "world_model": {"tokenizer": agent.tokenizer},
             "actor_critic": {"tokenizer": agent.tokenizer, "world_model": agent.world_model}}
    consumed = {"steps_per_epoch", "batch_num_samples", "grad_acc_steps", "max_grad_norm"}
    sizes = {n: scaled(t[n].batch_num_samples, scale) for n in seq}
    sizes["imagined_frame"] = sizes["actor_critic"]

    def set_modes(name: str) -> None:
        """Modes as in Trainer.train_agent: earlier components are in eval mode."""
        agent.train()
        if name in ("world_model", "actor_critic", "imagined_frame"):
            agent.tokenizer.eval()
        if name in ("actor_critic", "imagined_frame"):
            agent.world_model.eval()
        if name == "imagined_frame":
            agent.actor_critic.eval()

    def update(name: str):
        """One step of Trainer.train_component (grad_acc_steps = 1)."""
        c = t[name]
        component, optimizer = getattr(agent, name), opt[name]
        sequence_length, sample_from_start = seq[name]
        kwargs_loss = {**{k: v for k, v in c.items() if k not in consumed}, **extra[name]}

        def step() -> None:
            optimizer.zero_grad()
            for _ in range(c.grad_acc_steps):
                batch = dataset.sample_batch(sizes[name], sequence_length, sample_from_start)
                batch = {k: batch[k].to(device) for k in batch}
                losses = component.compute_loss(batch, **kwargs_loss) / c.grad_acc_steps
                losses.loss_total.backward()
                losses.loss_total.item()
            if c.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(component.parameters(), c.max_grad_norm)
            optimizer.step()
        return step

    actions = torch.randint(0, NUM_ACTIONS, (sizes["imagined_frame"],), generator=gen)
    wm_env = None
    if any(name == "imagined_frame" for name, _, _ in plan):  # untimed: sets num_observations_tokens
        wm_env = WorldModelEnv(agent.tokenizer, agent.world_model, device)
        with torch.no_grad():
            wm_env.reset_from_initial_observations(torch.rand(sizes["imagined_frame"], 3, 64, 64, generator=gen))

    @torch.no_grad()
    def imagine() -> None:
        n = sizes["imagined_frame"]
        start = torch.randint(0, tokenizer.vocab_size, (n, wm_env.num_observations_tokens), generator=gen)
        wm_env.refresh_keys_values_with_initial_obs_tokens(start)
        wm_env.obs_tokens = start
        wm_env.decode_obs_tokens()
        for _ in range(IMAGINED_STEPS):
            wm_env.step(actions)

    fns = {"tokenizer": update("tokenizer"), "world_model": update("world_model"),
           "actor_critic": update("actor_critic"), "imagined_frame": imagine}
    per_call = {"imagined_frame": IMAGINED_STEPS}

    results: dict = {}
    for name, warmup, timed in plan:
        set_modes(name)
        times = time_calls(name, fns[name], warmup, timed, _log, per_call.get(name, 1))
        if not times:
            continue
        results[name] = summary(times, n=f"{warmup}+{timed}", batch_size=sizes[name], batch_scale=scale,
                                threads=threads)
        if name == "imagined_frame":
            steps = per_call[name]
            results[name]["unit"] = f"seconds per imagined frame batch ((reset + {IMAGINED_STEPS} steps) / {steps})"
        _log(f"{name}: {results[name]}")
    return results


if __name__ == "__main__":
    main()
