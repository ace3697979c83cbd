"""Peer driver: times the reference DIAMOND (eloialonso/diamond @ 5bcd159) for bench_diamond.py.

What it times (protocol of shared/research/peer-timings.md §1; seconds per call, wall clock):

- ``imagined_frame_batch``: one ``DiffusionSampler.sample`` (what ``WorldModelEnv.predict_next_obs``
  calls: 3 Euler denoiser calls) on a freshly sampled batch of 32 contexts of 4 frames + actions.
- ``denoiser``: one update = the body of the repo's ``Trainer.train_component`` with
  ``grad_acc_steps = 1``: batch fetch (32 segments of 4 + 1 + 1 frames), ``Denoiser.forward``
  (2 denoise passes), backward, grad clip 1.0, AdamW step, zero_grad, LambdaLR step.
- ``rew_end``: the same for ``RewEndModel`` (32 x 19 frames, torcheval confusion matrices, clip 100).
- ``actor_critic``: the same for ``ActorCritic`` in imagination: ``WorldModelEnv`` with 32 envs,
  horizon 15, ``backup_every`` 15, 3 denoising steps per frame (eager, ``compile_wm`` not applied).
  The first call also preloads the initial conditions (``DIAMOND_PRELOAD_BATCHES`` batches, default
  32 as in peer-timings.md §1.3, instead of the configured 256).

Models, optimizers and schedules come from the repo's own YAMLs (``config/trainer.yaml``,
``config/agent/default.yaml``, ``config/env/atari.yaml``) through ``hydra.compose`` and the repo's
``instantiate`` targets, ``utils.configure_opt`` and ``utils.get_lr_sched``; 4 actions (Breakout).
Data: 8 synthetic episodes x 1000 random 64x64x3 frames in RAM, in the repo's ``Dataset`` /
``Episode`` classes (5% rewards of 1, ``end`` on the last step, info ``{"final_observation":
obs[-1]}``), sampled with the repo's ``BatchSampler`` (sample weights from the config) and
``collate_segments_to_batch``. Untrained, randomly initialised models; fp32, eager, CPU.

Usage (this is how bench_diamond.py runs it, with ``sys.executable`` and the allocator environment
of the setting being measured)::

    python diamond_driver.py THREADS WARMUP TIMED [ITEM[:WARMUP:TIMED] ...]

No item means all four with the global WARMUP/TIMED. Progress goes to stderr; the LAST stdout line
is one JSON object ``{item: {"median": s, "min": s, "max": s, "times": [...], "n": "w+t",
"batch_size": b, ...}}``. If the running Python is not the reference venv's, the script re-executes
itself under ``$PEER_PYTHON`` (default /work/peers/diamond-venv/bin/python) with the same
environment (so ``MALLOC_*`` settings given by the caller apply; this driver sets none itself).

Environment variables:
    DIAMOND_REPO              reference work tree (default /work/peers/diamond)
    PEER_PYTHON               Python of the reference venv (default /work/peers/diamond-venv/bin/python)
    PEER_BATCH_SCALE          multiply every batch size by this (default 1; e.g. 0.125 for a smoke test)
    DIAMOND_PRELOAD_BATCHES   ``num_batches_to_preload`` of the WorldModelEnv (default 32; config: 256)

Setup of the reference (outside this repository; nothing of it is committed here)::

    # work tree at the pinned commit, from a bare clone of github.com/eloialonso/diamond
    mkdir -p /work/peers/diamond
    git --git-dir=DIAMOND_BARE_GIT archive 5bcd1599755b4f2fae8e5e079e02f0728e174965 | tar -x -C /work/peers/diamond
    python3 -m venv /work/peers/diamond-venv
    /work/peers/diamond-venv/bin/pip install torch==2.13.0          # first: the CPU wheel on local disk
    /work/peers/diamond-venv/bin/pip install hydra-core==1.3.2 numpy gymnasium opencv-python-headless tqdm
    /work/peers/diamond-venv/bin/pip install --no-deps torcheval==0.0.7

Versions used: torch 2.13.0+cpu, hydra-core 1.3.2 (omegaconf 2.3.1), numpy 2.4.6, gymnasium 1.4.0,
opencv-python-headless 5.0.0.93, tqdm 4.70.1, torcheval 0.0.7 (no deps). Never torchvision.

Shims (in this driver only; the reference files are unmodified): ``torch.utils.data.Sampler.__init__``
gets back its old ``data_source`` argument (needed by ``data/batch_sampler.py`` on recent torch);
``wandb`` is stubbed if not installed (``utils.py`` imports it, for logging only); ``ale_py`` is stubbed
if not installed (``envs/env.py`` imports it; no Atari env is created). No reference code is in this
repository: this driver only imports the reference modules from ``$DIAMOND_REPO/src``.
"""

from __future__ import annotations

import os
import sys
import time
import types

from driver_common import batch_scale, parse_args, print_results, reexec_under, scaled, summary, time_calls

REPO = os.environ.get("DIAMOND_REPO", "/work/peers/diamond")
PEER_PYTHON = os.environ.get("PEER_PYTHON", "/work/peers/diamond-venv/bin/python")
ITEMS = ("imagined_frame_batch", "denoiser", "rew_end", "actor_critic")
NUM_ACTIONS = 4
EPISODES, EPISODE_LENGTH = 8, 1000


def _log(msg: str) -> None:
    print(f"[diamond peer] {msg}", file=sys.stderr, flush=True)


def _install_shims() -> None:
    import torch.utils.data

    def sampler_init(self, data_source=None) -> None:  # the pre-2.2 torch signature
        pass

    torch.utils.data.Sampler.__init__ = sampler_init
    for name in ("wandb", "ale_py"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)


def main() -> None:
    usage = __doc__.split("\n\n")[0] + "\nusage: diamond_driver.py THREADS WARMUP TIMED [ITEM[:W:T] ...]"
    threads, plan = parse_args(sys.argv[1:], ITEMS, usage)
    reexec_under(PEER_PYTHON, __file__)
    scale = batch_scale()
    preload = int(os.environ.get("DIAMOND_PRELOAD_BATCHES", "32"))

    print_results(lambda: run(threads, plan, scale, preload))


def run(threads: int, plan: list[tuple[str, int, int]], scale: float, preload: int) -> dict:
    import random

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    _install_shims()
    sys.path.insert(0, os.path.join(REPO, "src"))

    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from torch.utils.data import DataLoader

    # isort: split
    # the reference modules, from $REPO/src
    from agent import Agent
    from data import BatchSampler, Dataset, Episode, collate_segments_to_batch
    from envs import WorldModelEnv
    from utils import configure_opt, count_parameters, get_lr_sched

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)

    if not OmegaConf.has_resolver("eval"):
        OmegaConf.register_new_resolver("eval", eval)  # as the repo's src/main.py does
    with initialize_config_dir(config_dir=os.path.join(REPO, "config"), version_base="1.3"):
        cfg = compose(config_name="trainer")
    OmegaConf.resolve(cfg)
    device = torch.device("cpu")

    agent = Agent(instantiate(cfg.agent, num_actions=NUM_ACTIONS)).to(device)
    names = ["denoiser", "rew_end_model", "actor_critic"]
    opt = {n: configure_opt(getattr(agent, n), **cfg[n].optimizer) for n in names}
    sched = {n: get_lr_sched(opt[n], cfg[n].training.lr_warmup_steps) for n in names}
    params = {n: count_parameters(getattr(agent, n)) for n in names}
    _log(f"{sys.executable}: torch {torch.__version__}, {threads} threads, batch scale {scale}, parameters {params}")

    # Synthetic data: 8 episodes x 1000 random frames, in RAM (no files written).
    t0 = time.perf_counter()
    dataset = Dataset(os.path.join(REPO, "_unused_dataset_dir"), "train_dataset", cache_in_ram=True,
                      save_on_disk=False)
    gen = torch.Generator().manual_seed(0)
    for _ in range(EPISODES):
        obs = torch.randint(0, 256, (EPISODE_LENGTH, 3, 64, 64), dtype=torch.uint8, generator=gen)
        obs = obs.float().div(255).mul(2).sub(1)  # as Episode.load produces it
        end = torch.zeros(EPISODE_LENGTH, dtype=torch.uint8)
        end[-1] = 1
        dataset.add_episode(Episode(
            obs=obs,
            act=torch.randint(0, NUM_ACTIONS, (EPISODE_LENGTH,), generator=gen),
            rew=(torch.rand(EPISODE_LENGTH, generator=gen) < 0.05).float(),
            end=end,
            trunc=torch.zeros(EPISODE_LENGTH, dtype=torch.uint8),
            info={"final_observation": obs[-1]},
        ))
    _log(f"{dataset} built in {time.perf_counter() - t0:.1f} s")

    def make_loader(batch_size: int, seq_length: int, weights, can_sample_beyond_end: bool = False) -> DataLoader:
        bs = BatchSampler(dataset, 0, 1, batch_size, seq_length, weights, can_sample_beyond_end=can_sample_beyond_end)
        return DataLoader(dataset=dataset, collate_fn=collate_segments_to_batch, num_workers=0,
                          persistent_workers=False, pin_memory=False, batch_sampler=bs)

    n_cond = cfg.agent.denoiser.inner_model.num_steps_conditioning
    c_den, c_re, c_ac = cfg.denoiser.training, cfg.rew_end_model.training, cfg.actor_critic.training
    bs_den, bs_re, bs_ac = (scaled(c.batch_size, scale) for c in (c_den, c_re, c_ac))
    loaders = {
        "denoiser": make_loader(bs_den, n_cond + 1 + c_den.num_autoregressive_steps, list(c_den.sample_weights)),
        "rew_end_model": make_loader(bs_re, c_re.seq_length, list(c_re.sample_weights), can_sample_beyond_end=True),
    }
    wm_env_cfg = instantiate(cfg.world_model_env)
    wm_env_cfg.num_batches_to_preload = preload
    rl_env = WorldModelEnv(agent.denoiser, agent.rew_end_model,
                           make_loader(bs_ac, n_cond, list(c_ac.sample_weights)), wm_env_cfg)
    agent.setup_training(instantiate(cfg.denoiser.sigma_distribution),
                         instantiate(cfg.actor_critic.actor_critic_loss), rl_env)
    frame_iter = iter(make_loader(bs_ac, n_cond, list(c_ac.sample_weights)))
    iters = {n: iter(dl) for n, dl in loaders.items()}

    def update(name: str):
        """One step of Trainer.train_component (grad_acc_steps = 1)."""
        c = cfg[name].training
        model, it = getattr(agent, name), iters.get(name)

        def step() -> None:
            batch = next(it).to(device) if it is not None else None
            loss, metrics = model(batch) if batch is not None else model()
            loss.backward()
            if c.max_grad_norm is not None:
                metrics["grad_norm_before_clip"] = torch.nn.utils.clip_grad_norm_(model.parameters(), c.max_grad_norm)
            opt[name].step()
            opt[name].zero_grad()
            metrics["lr"] = sched[name].get_last_lr()[0]
            sched[name].step()
        return step

    @torch.no_grad()
    def frame_batch() -> None:
        batch = next(frame_iter).to(device)
        rl_env.sampler.sample(batch.obs, batch.act)

    fns = {"imagined_frame_batch": frame_batch, "denoiser": update("denoiser"),
           "rew_end": update("rew_end_model"), "actor_critic": update("actor_critic")}
    sizes = {"imagined_frame_batch": bs_ac, "denoiser": bs_den, "rew_end": bs_re, "actor_critic": bs_ac}

    agent.train()  # Trainer.train_agent
    for n in names:
        opt[n].zero_grad()
    results: dict = {}
    for name, warmup, timed in plan:
        times = time_calls(name, fns[name], warmup, timed, _log)
        if not times:
            continue
        results[name] = summary(times, n=f"{warmup}+{timed}", batch_size=sizes[name], batch_scale=scale,
                                threads=threads)
        if name == "actor_critic":
            results[name]["num_batches_to_preload"] = preload
        _log(f"{name}: {results[name]}")
    return results


if __name__ == "__main__":
    main()
