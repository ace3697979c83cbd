"""Compute the rliable reference numbers stored in rliable_vectors.json (run ONCE, by hand).

rliable is not a dependency of wmbench: this script runs in a throwaway venv,

    python3 -m venv /work/peers/rliable-venv
    /work/peers/rliable-venv/bin/pip install rliable 'pandas<3'   # rliable 1.2.0, arch 7.2.0
    /work/peers/rliable-venv/bin/python tests/stats/data/make_rliable_vectors.py

(rliable 1.2.0 fails to import with pandas 3.) Inputs are the human-normalised (runs, games)
matrices of the shipped baselines, games in sorted order, written by the wmbench venv to
hns_inputs.json (``python tests/stats/data/make_rliable_vectors.py --inputs``). rliable's
bootstrap draws from numpy's global state, so it is seeded with ``np.random.seed(0)``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
AGENTS = ["iris", "diamond", "storm", "twm", "simple"]
TAUS = np.linspace(0.0, 8.0, 81)


def write_inputs() -> None:
    from wmbench_core.baselines import load_baseline

    out = {}
    for name in AGENTS:
        b = load_baseline(name)
        out[name] = {"games": b.games, "hns": b.hns_matrix().tolist()}
    (HERE / "hns_inputs.json").write_text(json.dumps(out, indent=1))


def main() -> None:
    import rliable
    from rliable import library as rly
    from rliable import metrics

    inputs = json.loads((HERE / "hns_inputs.json").read_text())
    scores = {k: np.asarray(v["hns"]) for k, v in inputs.items()}

    def aggregates(x: np.ndarray) -> np.ndarray:
        return np.array([
            metrics.aggregate_median(x), metrics.aggregate_iqm(x), metrics.aggregate_mean(x),
            metrics.aggregate_optimality_gap(x),
        ])  # fmt: skip

    out: dict = {"rliable_version": getattr(rliable, "__version__", "1.2.0"), "metric_order":
                 ["median", "iqm", "mean", "optimality_gap"], "seed": "np.random.seed(0)",
                 "aggregate_reps": 50000, "profile_reps": 2000, "poi_reps": 2000,
                 "taus": TAUS.tolist(), "agents": {}, "poi": {}, "timing_s": {}}  # fmt: skip
    for name, x in scores.items():
        np.random.seed(0)
        t = time.perf_counter()
        point, ci = rly.get_interval_estimates({name: x}, aggregates, reps=50000)
        out["timing_s"][f"aggregates_{name}"] = time.perf_counter() - t
        entry = {"point": point[name].tolist(), "ci_lo": ci[name][0].tolist(), "ci_hi": ci[name][1].tolist()}
        for kind, use_runs in (("run", True), ("average", False)):
            np.random.seed(0)
            prof, prof_ci = rly.create_performance_profile({name: x}, TAUS, use_score_distribution=use_runs, reps=2000)
            entry[f"profile_{kind}"] = prof[name].tolist()
            entry[f"profile_{kind}_lo"] = prof_ci[name][0].tolist()
            entry[f"profile_{kind}_hi"] = prof_ci[name][1].tolist()
        out["agents"][name] = entry
        print(name, entry["point"], flush=True)
    # task bootstrap (runs and games resampled) for one agent
    np.random.seed(0)
    point, ci = rly.get_interval_estimates({"iris": scores["iris"]}, aggregates, reps=50000, task_bootstrap=True)
    out["task_bootstrap_iris"] = {"ci_lo": ci["iris"][0].tolist(), "ci_hi": ci["iris"][1].tolist()}
    for other in ["iris", "storm", "twm", "simple"]:
        np.random.seed(0)
        t = time.perf_counter()
        point, ci = rly.get_interval_estimates(
            {f"diamond,{other}": (scores["diamond"], scores[other])}, metrics.probability_of_improvement, reps=2000
        )
        out["timing_s"][f"poi_diamond_{other}"] = time.perf_counter() - t
        key = f"diamond,{other}"
        out["poi"][key] = {"point": float(np.squeeze(point[key])), "ci": np.squeeze(ci[key]).tolist()}
        print(key, out["poi"][key], flush=True)
    (HERE / "rliable_vectors.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    if "--inputs" in sys.argv:
        write_inputs()
    else:
        main()
