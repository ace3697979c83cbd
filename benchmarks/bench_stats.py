"""Aggregate statistics speed: wmbench's vectorised bootstrap vs rliable's loop, in one run.

The job: median, IQM, mean and optimality gap with 95% stratified-bootstrap CIs at 50,000
resamples, for 5 agents x 26 games x 5 runs (the published IRIS, DIAMOND, STORM, TWM and SimPLe
human-normalised scores). rliable is not a wmbench dependency: the peer runs in its own venv,

    python3 -m venv /work/peers/rliable-venv && /work/peers/rliable-venv/bin/pip install rliable 'pandas<3'
    python benchmarks/bench_stats.py --rliable-python /work/peers/rliable-venv/bin/python

(or set WMBENCH_RLIABLE_PYTHON). Without it the peer is skipped with a message. Both sides run
under the same allocator settings (MALLOC_ENV); each side's time excludes imports. The script
also reports how far the two sides' numbers are apart (points exactly, CIs within MC error).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

AGENTS = ("iris", "diamond", "storm", "twm", "simple")
ORDER = ("median", "iqm", "mean", "optimality_gap")

PEER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from rliable import library as rly, metrics

    scores = {k: np.asarray(v) for k, v in json.load(open(sys.argv[1])).items()}
    reps = int(sys.argv[2])

    def f(x):
        return np.array([metrics.aggregate_median(x), metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
                         metrics.aggregate_optimality_gap(x)])

    np.random.seed(0)
    t = time.perf_counter()
    point, ci = rly.get_interval_estimates(scores, f, reps=reps)
    dt = time.perf_counter() - t
    print(json.dumps({"seconds": dt, "point": {k: v.tolist() for k, v in point.items()},
                      "ci": {k: v.tolist() for k, v in ci.items()}}))
    """
)


def ours(scores: dict[str, np.ndarray], reps: int) -> tuple[float, dict]:
    from wmbench_core.metrics import interval_estimates

    t = time.perf_counter()
    out = {name: interval_estimates(x, reps=reps, seed=i) for i, (name, x) in enumerate(scores.items())}
    return time.perf_counter() - t, out


def peer(python: str, scores: dict[str, np.ndarray], reps: int) -> dict | None:
    from wmbench_core.learning.allocator import malloc_env

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "scores.json"
        data.write_text(json.dumps({k: v.tolist() for k, v in scores.items()}))
        script = Path(tmp) / "peer.py"
        script.write_text(PEER)
        proc = subprocess.run(
            [python, "-W", "ignore", str(script), str(data), str(reps)],
            capture_output=True, text=True, env=malloc_env(), cwd=tmp,
        )  # fmt: skip
    if proc.returncode != 0:
        print(f"peer failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3, help="timings of our side (best is reported)")
    ap.add_argument(
        "--rliable-python", default=os.environ.get("WMBENCH_RLIABLE_PYTHON", "/work/peers/rliable-venv/bin/python")
    )
    args = ap.parse_args()

    from wmbench_core.baselines import load_baseline
    from wmbench_core.learning.allocator import tune_malloc

    tune_malloc()
    scores = {name: load_baseline(name).hns_matrix() for name in AGENTS}
    shape = next(iter(scores.values())).shape
    job = f"{len(AGENTS)} agents x {shape[1]} games x {shape[0]} runs"
    print(f"job: 4 aggregates with 95% CIs, {args.reps:,} resamples, {job}")
    times = []
    for _ in range(args.repeat):
        dt, result = ours(scores, args.reps)
        times.append(dt)
    t_ours = min(times)
    print(f"wmbench (vectorised numpy): {t_ours:.3f} s (best of {args.repeat}: {', '.join(f'{t:.3f}' for t in times)})")

    if not args.rliable_python or not Path(args.rliable_python).exists():
        print(f"peer skipped: no rliable venv at {args.rliable_python!r} (see --rliable-python)")
        return
    ref = peer(args.rliable_python, scores, args.reps)
    if ref is None:
        return
    t_peer = ref["seconds"]
    print(f"rliable 1.2.0 (arch bootstrap loop): {t_peer:.3f} s ({t_peer / len(AGENTS):.2f} s per agent)")
    print(f"speed ratio rliable / wmbench: {t_peer / t_ours:.1f}x")
    max_point = max(
        abs(result[a][m].value - ref["point"][a][k]) for a in AGENTS for k, m in enumerate(ORDER)
    )  # fmt: skip
    max_ci = max(
        max(abs(result[a][m].lo - ref["ci"][a][0][k]), abs(result[a][m].hi - ref["ci"][a][1][k]))
        for a in AGENTS
        for k, m in enumerate(ORDER)
    )
    print(f"agreement: max |point difference| = {max_point:.2e}; max |CI bound difference| = {max_ci:.4f} HNS")


if __name__ == "__main__":
    main()
