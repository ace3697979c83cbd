"""Seconds per update of each DIAMOND component at the atari100k preset, and imagined frames/s.

    python benchmarks/bench_diamond.py                   # both allocator settings, 2 threads
    python benchmarks/bench_diamond.py --allocator tuned --timed 3 --out bench.json
    python benchmarks/bench_diamond.py --peer-driver benchmarks/peers/diamond_driver.py  # side by side
    python benchmarks/bench_diamond.py --allocator tuned --only imagined_frame_batch --rounds 2 \
        --peer-driver benchmarks/peers/diamond_driver.py           # ours, ref, ref, ours: pooled
    python benchmarks/bench_diamond.py --set sampler.bf16=true       # opt-in bf16 imagination

Same protocol as shared/research/peer-timings.md §1 (the reference eloialonso/diamond@5bcd159
timed on this machine): untrained models, synthetic data of 8 episodes x 1000 random 64x64
frames in RAM, 4 actions (Breakout), batch 32, torch with 2 threads, fp32, eager; each timed
update is batch fetch + forward/loss + backward + clipping + AdamW + LR-schedule step. The
allocator settings are run in separate processes: ``default`` (glibc as shipped; our own
``tune_malloc`` disabled) and ``tuned`` (``wmbench_core.learning.allocator.MALLOC_ENV``).

With ``--peer-driver DRIVER.py`` the reference is timed in the same run, under the same
allocator setting and thread count, right after ours; ``--rounds 2`` times ours, the reference,
the reference, ours (each in a fresh process) and pools the timings, so that a host getting
slower or faster during the run does not favour either side (``benchmarks/peers/diamond_driver.py``
imports the unmodified reference modules, peer-timings.md §1; its docstring says how to set
the reference up — none of its code is in this repository; it prints one
JSON line of {item: {"median": s, ...}} and takes ``threads warmup timed [items...]``). Items
the driver does not time are compared with the figures recorded in peer-timings.md §1/§4
(measured alone on this machine) and marked "recorded". The ratio column is reference / ours
(> 1 means we are faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# Reference (eloialonso/diamond 5bcd159) seconds, peer-timings.md §1.2/§1.3 (default malloc)
# and §4 (tuned malloc): median per update / per 32-frame imagined batch.
REFERENCE = {
    "default": {"denoiser": 12.16, "rew_end": 16.95, "actor_critic": 51.8, "imagined_frame_batch": 6.10},
    "tuned": {"denoiser": 4.99, "rew_end": 4.11, "actor_critic": 38.8, "imagined_frame_batch": 2.28},
}


def run_child(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from wmbench_diamond.agent import DiamondAgent

    from wmbench_core.envs import make_env_spec
    from wmbench_core.learning.allocator import tune_malloc

    tuned = tune_malloc()
    torch.set_num_threads(args.threads)
    from wmbench_core.parsing import parse_overrides

    agent = DiamondAgent(env=make_env_spec("Breakout"), preset="atari100k", seed=0, **parse_overrides(args.set))
    tr = agent.trainer
    rng = np.random.default_rng(0)
    ds = tr.dataset
    for _ in range(args.episodes):
        for t in range(args.episode_length):
            last = t == args.episode_length - 1
            ds.add(
                rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), int(rng.integers(4)),
                float(rng.random() < 0.05), last, False, t == 0,
                rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) if last else None,
            )

    def timeit(fn, warmup: int, timed: int) -> dict:
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(timed):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": f"{warmup}+{timed}",
                "times": times}

    def frame_batch() -> None:
        obs, act = tr.sample_contexts(32)
        tr.sampler.sample(obs, act, tr.gen)

    out = {"allocator": "tuned" if tuned else "default", "threads": args.threads, "timings": {}}
    plan = [
        ("imagined_frame_batch", frame_batch, args.warmup, args.timed_frames),
        ("denoiser", tr.update_denoiser, args.warmup, args.timed),
        ("rew_end", tr.update_rew_end, args.warmup, args.timed),
        ("actor_critic", tr.update_actor_critic, args.warmup_ac, args.timed_ac),
    ]
    for name, fn, w, n in plan:
        if args.only and name not in args.only:
            continue
        out["timings"][name] = timeit(fn, w, n)
        print(f"  [{out['allocator']}] {name}: {out['timings'][name]}", file=sys.stderr, flush=True)
    out["params"] = agent.describe()["parameters"]
    return out


def _time_ours(args: argparse.Namespace, env: dict[str, str], setting: str) -> dict:
    cmd = [sys.executable, __file__, "--child"] + [a for a in sys.argv[1:] if a != "--child"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr[-4000:])
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child ({setting}) failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _time_peer(args: argparse.Namespace, env: dict[str, str]) -> dict | None:
    counts = {"imagined_frame_batch": (args.warmup, args.timed_frames), "denoiser": (args.warmup, args.timed),
              "rew_end": (args.warmup, args.timed), "actor_critic": (args.warmup_ac, args.timed_ac)}
    items = [f"{i}:{w}:{n}" for i, (w, n) in counts.items() if not args.only or i in args.only]
    if not items:
        return None
    pcmd = [sys.executable, args.peer_driver, str(args.threads), str(args.warmup), str(args.timed), *items]
    proc = subprocess.run(pcmd, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None


def _pooled(runs: list[dict]) -> dict:
    """{item: timing} of several runs -> one {item: timing} over all their timed repetitions."""
    pooled: dict = {}
    for name in runs[0]:
        times = [t for run in runs for t in run[name].get("times", [run[name]["median"]])]
        pooled[name] = {"median": statistics.median(times), "min": min(times), "max": max(times),
                        "n": " + ".join(str(run[name]["n"]) for run in runs), "times": times}
    return pooled


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--allocator", choices=["default", "tuned", "both"], default="both")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--timed", type=int, default=3)
    p.add_argument("--timed-frames", type=int, default=3)
    p.add_argument("--timed-ac", type=int, default=2)
    p.add_argument("--warmup-ac", type=int, default=1)
    p.add_argument("--episodes", type=int, default=8)
    p.add_argument("--episode-length", type=int, default=1000)
    p.add_argument("--only", nargs="*", default=None, help="subset of components to time")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--set", nargs="*", default=[], help="agent config overrides for ours, e.g. sampler.bf16=true")
    p.add_argument("--peer-driver", default=None, help="time the reference with this driver in the same run")
    p.add_argument("--rounds", type=int, default=1,
                   help="with --peer-driver: rounds of ours/reference, alternating which goes first (2 = ABBA)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_child(args)))
        return

    from wmbench_core.learning.allocator import MALLOC_ENV

    settings = ["default", "tuned"] if args.allocator == "both" else [args.allocator]
    results: dict = {}
    peer: dict = {}
    for setting in settings:
        env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
        if setting == "tuned":
            env.update(MALLOC_ENV)
        else:
            env["WMBENCH_NO_MALLOC_TUNING"] = "1"
        ours_runs, peer_runs = [], []
        for r in range(max(1, args.rounds) if args.peer_driver else 1):
            order = ["ours", "peer"] if r % 2 == 0 else ["peer", "ours"]
            for side in order:
                if side == "ours":
                    ours_runs.append(_time_ours(args, env, setting))
                elif args.peer_driver:
                    run = _time_peer(args, env)
                    if run:
                        peer_runs.append(run)
        results[setting] = {**ours_runs[0], "timings": _pooled([run["timings"] for run in ours_runs])}
        if peer_runs:
            peer[setting] = _pooled(peer_runs)

    print(f"\nDIAMOND atari100k, Breakout (4 actions), {args.threads} threads; seconds (median)")
    print(f"{'item':24s} {'allocator':9s} {'ours':>9s} {'reference':>10s} {'ref/ours':>9s}  reference from")
    for setting, res in results.items():
        def ref_of(name: str, setting: str = setting) -> tuple[float, str]:
            if name in peer.get(setting, {}):
                return peer[setting][name]["median"], "same run"
            return REFERENCE[setting][name], "recorded (peer-timings.md)"

        for name, t in res["timings"].items():
            ref, src = ref_of(name)
            print(f"{name:24s} {setting:9s} {t['median']:9.3f} {ref:10.2f} {ref / t['median']:9.2f}x  {src}")
        if "imagined_frame_batch" in res["timings"]:
            ours = 32 / res["timings"]["imagined_frame_batch"]["median"]
            ref_t, src = ref_of("imagined_frame_batch")
            ref = 32 / ref_t
            line = f"{'imagined frames/s':24s} {setting:9s} {ours:9.2f} {ref:10.2f} {ours / ref:9.2f}x"
            print(f"{line}  {src} (ours/ref)")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"ours": results, "reference_same_run": peer, "reference_recorded": REFERENCE}, fh, indent=2)


if __name__ == "__main__":
    main()
