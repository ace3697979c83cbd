"""Speed of the wmbench IRIS plugin at the paper's (atari100k) sizes, next to the reference.

Measures seconds per update of each component and imagined steps per second, with the same
batch shapes as the reference's Atari 100k config (tokenizer 256 frames; world model 64 x 20
frames; actor-critic 64 rollouts, burn-in 20, horizon 20), untrained models and synthetic
random frames (8 episodes x 1000 steps), like the reference timings in
shared/research/peer-timings.md §2 (eloialonso/iris @ 24326aa, torch 2.13 CPU, 2 threads).

    python benchmarks/bench_iris.py                    # tuned glibc malloc (MALLOC_ENV)
    python benchmarks/bench_iris.py --malloc default   # glibc defaults
    python benchmarks/bench_iris.py --quick            # fewer repetitions
    python benchmarks/bench_iris.py --peer-driver benchmarks/peers/iris_driver.py  # side by side

The allocator setting is applied by re-executing this script with the environment variables of
wmbench_core.learning.allocator.MALLOC_ENV (or without them), i.e. exactly how the reference
figures were taken. Reference figures (same machine type, uncontended) are printed next to ours
with the ratio reference / ours (> 1: we are faster). With ``--peer-driver DRIVER.py`` the
reference is timed in the same run, under the same allocator setting and thread count, right after
ours (``benchmarks/peers/iris_driver.py`` imports the unmodified reference modules,
peer-timings.md §2, and its docstring says how to set the reference up;
it takes ``threads warmup timed [item[:warmup:timed] ...]``
with items tokenizer, world_model, actor_critic, imagined_frame and prints one JSON line of
{item: {"median": s, ...}}). Items the driver does not time are compared with the recorded figures
and marked "recorded".

World-model and actor-critic updates are timed twice: "cold" re-encodes every sampled frame (the
reference's behaviour, token cache invalidated before each update) and "cached" reuses tokens
computed since the last tokenizer update (wmbench's behaviour during an epoch's world-model and
actor-critic phases, exact because the tokenizer is frozen then).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

# Reference (eloialonso/iris @ 24326aa) seconds per update, peer-timings.md §2.2 and §4.
PEER = {
    "default": {"tokenizer": 62.7, "world_model": 44.2, "actor_critic": 106.5, "imagined_frame": 1.4},
    "tuned": {"tokenizer": 15.3, "world_model": 36.4, "actor_critic": 95.2, "imagined_frame": 1.1},
}


def _reexec(mode: str) -> None:
    from wmbench_core.learning.allocator import MALLOC_ENV

    env = dict(os.environ)
    want = mode == "tuned"
    has = all(env.get(k) == v for k, v in MALLOC_ENV.items())
    if want == has and env.get("_IRIS_BENCH_CHILD"):
        return
    for k in MALLOC_ENV:
        env.pop(k, None)
    if want:
        env.update(MALLOC_ENV)
    else:
        env["WMBENCH_NO_MALLOC_TUNING"] = "1"
    env["_IRIS_BENCH_CHILD"] = "1"
    sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))


def _time(fn, warmup: int, reps: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--malloc", choices=["tuned", "default"], default="tuned")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="1 warm-up + 1 timed update each")
    ap.add_argument("--only", default="tokenizer,world_model,actor_critic,imagination")
    ap.add_argument("--peer-driver", default=None, help="time the reference with this driver in the same run")
    args = ap.parse_args()
    _reexec(args.malloc)

    import numpy as np
    import torch
    from wmbench_iris import trainer as T
    from wmbench_iris.agent import IrisAgent
    from wmbench_iris.imagination import ImaginedEnv

    from wmbench_core.envs import make_env_spec
    from wmbench_core.learning.allocator import release_free_memory

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    agent = IrisAgent(env=make_env_spec("ALE/Breakout-v5"), preset="atari100k", seed=0)
    cfg, t = agent.cfg, agent.cfg.training
    rng = np.random.default_rng(0)
    agent._ensure_replay(8000)
    replay, cache = agent.replay, agent.token_cache
    for _ in range(8):  # synthetic data like the reference timing: 8 episodes x 1000 frames
        frames = rng.integers(0, 256, (1000, 64, 64, 3), dtype=np.uint8)
        for i in range(1000):
            replay.add(frames[i], int(rng.integers(4)), float(rng.integers(-1, 2)), i == 999,
                       is_first=i == 0, row=replay.total_added)
    warm, reps = (1, 1) if args.quick else (1, 3)
    only = set(args.only.split(","))
    load = os.getloadavg()[0]
    results: dict[str, list[float]] = {}

    if "tokenizer" in only:
        def tok() -> None:
            x = T.tokenizer_batch(replay, t.tokenizer_batch_size, rng)
            T.tokenizer_update(agent.tokenizer, agent.opt_tokenizer, x, t.max_grad_norm)
        results["tokenizer"] = _time(tok, warm, reps)

    def wm(cold: bool):
        def run() -> None:
            if cold:
                cache.invalidate()
            b = T.world_model_batch(replay, cache, agent.tokenizer, t.world_model_batch_size,
                                    cfg.world_model.max_blocks, rng, t.inference_chunk)
            T.world_model_update(agent.world_model, agent.opt_world_model, b["tokens"],
                                 b["actions"], b["rewards"], b["ends"], b["mask"], t.max_grad_norm)
        return run

    def ac(cold: bool):
        def run() -> None:
            if cold:
                cache.invalidate()
            b = T.actor_critic_batch(replay, cache, agent.tokenizer, t.actor_critic_batch_size,
                                     cfg.actor_critic.burn_in, rng, t.inference_chunk)
            T.actor_critic_update(agent.actor_critic, agent.opt_actor_critic, agent.tokenizer,
                                  agent.world_model, b["tokens"], b["mask"], cfg, agent.train_gen)
        return run

    if "world_model" in only:
        results["world_model (cold: encode every frame)"] = _time(wm(True), warm, reps)
        # steady state of an epoch: the whole buffer encoded once, then reused
        cache.invalidate()
        T.world_model_batch(replay, cache, agent.tokenizer, 1, 1, rng, t.inference_chunk)
        allrows = np.arange(len(replay))
        seg = replay.sample_segments(len(allrows), 1, rng, starts=allrows)
        t0 = time.perf_counter()
        cache.lookup(agent.tokenizer, seg["obs"], seg["row"], t.inference_chunk)
        results["encode 8000 frames (once per epoch)"] = [time.perf_counter() - t0]
        results["world_model (cached tokens)"] = _time(wm(False), warm, reps)
    if "actor_critic" in only:
        results["actor_critic (cold: encode every frame)"] = _time(ac(True), warm, 1)
        allrows = np.arange(len(replay))
        seg = replay.sample_segments(len(allrows), 1, rng, starts=allrows)
        cache.lookup(agent.tokenizer, seg["obs"], seg["row"], t.inference_chunk)
        results["actor_critic (cached tokens)"] = _time(ac(False), warm, reps)
    if "imagination" in only:
        agent.tokenizer.eval()
        agent.world_model.eval()
        env = ImaginedEnv(agent.tokenizer, agent.world_model, agent.train_gen)
        start = torch.randint(0, 512, (64, 16))
        acts = torch.randint(0, 4, (64,))

        def imagine() -> None:
            env.reset(start)
            for _ in range(19):
                env.step(acts)
        times = _time(imagine, 1, reps)
        results["imagined frame batch (64 frames: 16 GPT calls + decode)"] = [x / 19 for x in times]

    same_run: dict = {}
    if args.peer_driver:  # the reference, right after ours, in this (allocator-configured) environment
        # our models, replay and caches go first: with the tuned allocator this process keeps its
        # peak (~17 GB at these sizes), and ours plus the reference's peak do not fit in 24 GB
        del agent, replay, cache
        if "imagination" in only:
            del env
        gc.collect()
        release_free_memory()
        items = [f"{k}:{warm}:{n}" for k, n in (("tokenizer", reps), ("world_model", reps),
                                                ("actor_critic", reps), ("imagined_frame", reps))
                 if (k if k != "imagined_frame" else "imagination") in only]
        # one driver process per item: with the tuned allocator a process keeps its peak, and the
        # reference's peaks of all items in one process exceed 24 GB (it was OOM-killed)
        for item in items:
            pcmd = [sys.executable, args.peer_driver, str(args.threads), str(warm), str(reps), item]
            proc = subprocess.run(pcmd, env=dict(os.environ), capture_output=True, text=True, check=False)
            sys.stderr.write(proc.stderr[-2000:])
            if proc.returncode == 0:
                same_run.update(json.loads(proc.stdout.strip().splitlines()[-1]))
            else:
                print(f"peer driver failed on {item} (exit {proc.returncode}); using its recorded figure",
                      file=sys.stderr)

    peer = PEER[args.malloc]
    print(f"\nwmbench IRIS, atari100k sizes, torch {torch.__version__}, {args.threads} threads, "
          f"malloc {args.malloc}, load average at start {load:.1f} (2 cores)")
    if same_run:
        print("reference: eloialonso/iris @ 24326aa timed in this run by the peer driver (same allocator "
              "setting and threads); items it did not time: recorded figures (peer-timings.md §2/§4)\n")
    else:
        print("reference: recorded figures of eloialonso/iris @ 24326aa on this machine type "
              "(peer-timings.md §2/§4, uncontended); not re-run side by side here\n")

    def ref_of(key: str) -> tuple[float | None, str]:
        if key in same_run:
            return same_run[key]["median"], "same run"
        return peer.get(key), "recorded"

    print(f"{'item':58s} {'ours s (median, min-max)':>26s} {'reference s':>12s} {'ratio':>7s}  reference from")
    for name, xs in results.items():
        key = next((k for k in peer if name.startswith(k) or (k == "imagined_frame"
                                                             and name.startswith("imagined"))), None)
        med = statistics.median(xs)
        ref, src = ref_of(key) if key else (None, "-")
        ratio = f"{ref / med:6.2f}x" if ref else "    -"
        refs = f"{ref:12.2f}" if ref else f"{'-':>12s}"
        print(f"{name:58s} {med:10.2f} ({min(xs):.2f}-{max(xs):.2f}) n={len(xs):<3d} {refs} {ratio}  {src}")
    if "imagination" in only:
        per = statistics.median(results["imagined frame batch (64 frames: 16 GPT calls + decode)"])
        ref, src = ref_of("imagined_frame")
        print(f"\nimagined steps/s: {64 / per:.1f} (reference ≈ {64 / ref:.1f}, {src})")


if __name__ == "__main__":
    main()
