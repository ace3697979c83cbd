"""Seconds per training update: wmbench's DreamerV3 (atari100k preset) vs sheeprl 0.8.4 dreamer_v3.

Both sides run the DreamerV3 2023 recipe at size S (deter 512, CNN depth 32, 2x512 MLPs,
32x32 latents) on batches of 16 x 64 64x64 RGB frames with 6 actions: one update = world-model
step + imagination (horizon 15 from all 1024 posterior states) + actor and critic steps. Each
side runs in its own subprocess (sheeprl in its own venv), with the same thread count and the
same glibc malloc settings (wmbench_core.learning.allocator.MALLOC_ENV), alternating A B B A so
machine load drifts cancel; the result is reported as a ratio.

    /work/venv/bin/python benchmarks/bench_dreamer.py \
        --sheeprl-python /work/peers/sheeprl-venv/bin/python --updates 5 --warmup 2

sheeprl setup (a separate venv, CPU torch only):
    python -m venv /work/peers/sheeprl-venv
    /work/peers/sheeprl-venv/bin/pip install torch==2.13.0 (the +cpu wheel) && ... pip install sheeprl==0.8.4

Our side's update samples its batch from a uint8 replay buffer (included in the time); sheeprl's
gets a ready batch tensor (its sampling is excluded), which favours sheeprl slightly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

NUM_ACTIONS = 6  # Pong's minimal action set


def _timed(step, warmup: int, updates: int) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(updates):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return times


def worker_wmbench(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from wmbench_dreamer.agent import DreamerV3Agent

    from wmbench_core.envs import EnvSpec
    from wmbench_core.learning.replay import ReplayBuffer

    agent = DreamerV3Agent(env=EnvSpec("Pong"), preset="atari100k", seed=0, **json.loads(args.set))
    assert agent.num_actions == NUM_ACTIONS
    rng = np.random.default_rng(0)
    replay = ReplayBuffer(2000)
    for i in range(2000):
        frame = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        replay.add(frame, int(rng.integers(NUM_ACTIONS)), float(rng.normal()), False, False, i % 500 == 0)
    times = _timed(lambda: agent.trainer.update(replay, rng, agent.train_generator), args.warmup, args.updates)
    return {"times": times, "params": agent.describe()["parameters"]["total"]}


def worker_sheeprl(args: argparse.Namespace) -> dict:
    import gymnasium as gym
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from hydra import compose, initialize_config_module
    from lightning.fabric import Fabric
    from omegaconf import OmegaConf
    from sheeprl.algos.dreamer_v3.agent import build_agent
    from sheeprl.algos.dreamer_v3.dreamer_v3 import train
    from sheeprl.algos.dreamer_v3.utils import Moments
    from sheeprl.utils.utils import dotdict

    with initialize_config_module(config_module="sheeprl.configs", version_base="1.3"):
        raw = compose(
            config_name="config",
            overrides=["exp=dreamer_v3_100k_ms_pacman", "metric.log_level=0", "env.capture_video=False"],
        )
    cfg = dotdict(OmegaConf.to_container(raw, resolve=True))
    fabric = Fabric(accelerator="cpu", devices=1, precision="32-true")
    obs_space = gym.spaces.Dict({"rgb": gym.spaces.Box(0, 255, (3, 64, 64), np.uint8)})
    wm, actor, critic, target, _ = build_agent(fabric, (NUM_ACTIONS,), False, cfg, obs_space)
    wopt = fabric.setup_optimizers(torch.optim.Adam(wm.parameters(), **_adam(cfg.algo.world_model.optimizer)))
    aopt = fabric.setup_optimizers(torch.optim.Adam(actor.parameters(), **_adam(cfg.algo.actor.optimizer)))
    copt = fabric.setup_optimizers(torch.optim.Adam(critic.parameters(), **_adam(cfg.algo.critic.optimizer)))
    m = cfg.algo.actor.moments
    moments = Moments(m.decay, m.max, m.percentile.low, m.percentile.high)
    T, B = cfg.algo.per_rank_sequence_length, cfg.algo.per_rank_batch_size
    g = torch.Generator().manual_seed(0)
    actions = torch.nn.functional.one_hot(torch.randint(0, NUM_ACTIONS, (T, B), generator=g), NUM_ACTIONS)
    data = {
        "rgb": torch.randint(0, 256, (T, B, 3, 64, 64), generator=g).float(),
        "actions": actions.float(),
        "rewards": torch.randn(T, B, 1, generator=g),
        "terminated": torch.zeros(T, B, 1),
        "truncated": torch.zeros(T, B, 1),
        "is_first": torch.zeros(T, B, 1),
    }

    def step() -> None:
        batch = {k: v.clone() for k, v in data.items()}
        train(fabric, wm, actor, critic, target, wopt, aopt, copt, batch, None, cfg, False, (NUM_ACTIONS,), moments)

    params = sum(p.numel() for mod in (wm, actor, critic) for p in mod.parameters())
    return {"times": _timed(step, args.warmup, args.updates), "params": params,
            "batch": [B, T], "dense_units": cfg.algo.dense_units}  # fmt: skip


def _adam(opt: dict) -> dict:
    return {k: opt[k] for k in ("lr", "eps", "weight_decay") if k in opt}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=["wmbench", "sheeprl"], default=None)
    p.add_argument("--sheeprl-python", default="/work/peers/sheeprl-venv/bin/python")
    p.add_argument("--updates", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1, help="A B B A rounds")
    p.add_argument("--set", default="{}", help="JSON config overrides for our agent")
    p.add_argument("--default-malloc", action="store_true", help="do not apply MALLOC_ENV")
    args = p.parse_args()
    if args.worker:
        fn = worker_wmbench if args.worker == "wmbench" else worker_sheeprl
        print("RESULT " + json.dumps(fn(args)), flush=True)
        return

    from wmbench_core.learning.allocator import MALLOC_ENV

    env = dict(os.environ)
    env.pop("WMBENCH_NO_MALLOC_TUNING", None)
    if args.default_malloc:
        for k in MALLOC_ENV:
            env.pop(k, None)
        env["WMBENCH_NO_MALLOC_TUNING"] = "1"  # our agent must not tune itself either
    else:
        env.update(MALLOC_ENV)
    common = ["--updates", str(args.updates), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    pythons = {"wmbench": sys.executable, "sheeprl": args.sheeprl_python}
    results: dict[str, list] = {"wmbench": [], "sheeprl": []}
    params: dict[str, int] = {}
    order = ["sheeprl", "wmbench", "wmbench", "sheeprl"] * args.rounds
    for who in order:
        cmd = [pythons[who], os.path.abspath(__file__), "--worker", who, *common]
        if who == "wmbench":
            cmd += ["--set", args.set]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd="/tmp")
        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
        if out.returncode != 0 or not line:
            sys.exit(f"{who} worker failed:\n{out.stderr[-3000:]}")
        res = json.loads(line[0][7:])
        results[who] += res["times"]
        params[who] = res["params"]
        print(f"{who:8s} s/update: " + " ".join(f"{t:.2f}" for t in res["times"]), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    summary = {
        "malloc": "default" if args.default_malloc else "tuned (MALLOC_ENV)",
        "threads": args.threads,
        "seconds_per_update_median": med,
        "updates_per_second": {k: 1 / v for k, v in med.items()},
        "speedup_wmbench_over_sheeprl": med["sheeprl"] / med["wmbench"],
        "parameters": params,
        "n_timed": {k: len(v) for k, v in results.items()},
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
