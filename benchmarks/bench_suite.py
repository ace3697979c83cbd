"""Suite throughput: the same 32 short jobs through the local, process and Ray executors at 1 and
2 workers, in one run, as ratios; and the driver's overhead per job.

    python benchmarks/bench_suite.py [--game catch|Pong] [--jobs 32] [--episodes 1500]
                                     [--workers 1,2] [--executors local,process,ray]
                                     [--workload cpu|sleep] [--rounds 1]

With ``--workload cpu`` (default) each job is the random agent evaluated on ``--game`` (seed =
job index), a CPU-bound, single-threaded job like a world-model update loop pinned to one core:
its speedup is bounded by the cores that are free. ``--workload sleep`` jobs hold their slot for
0.5 s without using a core, which measures the executors' own parallelism and overhead even
on a machine whose cores are busy with other work. Reported per executor
and worker count: wall time, jobs/s, speedup over the same executor at 1 worker, the mean job
wall time measured inside the job, and the overhead per job = (wall x workers - sum of job wall
times) / jobs: worker start-up, dispatch, result transfer and the driver's store writes, i.e.
slot time not spent in jobs. The local executor's overhead is the driver's alone. The last
line times one ``ResultsStore.append`` into a run dir that already holds 130 records (the full
Atari 100k table of one agent), the driver's per-job cost at full scale.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wmbench_core.agents.random_agent import RandomAgent


class SleepAgent(RandomAgent):
    """The random agent whose "training" sleeps ``sleep`` seconds: a job that holds a slot
    without using a core, which isolates the executors' own parallelism and overhead from
    CPU contention (the ``--workload sleep`` of this benchmark)."""

    name = "sleepy"

    def __init__(self, **kwargs: Any) -> None:
        self.sleep = float(kwargs.pop("sleep", 0.5))
        super().__init__(**kwargs)

    def train(self, env_steps: int, progress: Any = None) -> dict[str, Any]:
        time.sleep(self.sleep)
        return super().train(env_steps, progress)


def run_config(executor: str, workers: int, jobs: list, root: Path, factories: dict | None = None) -> dict[str, float]:
    from wmbench_core.suite import SuiteEvents, run_suite

    class Clock(SuiteEvents):
        def __init__(self) -> None:
            self.finished_at: list[float] = []

        def finished(self, record: dict) -> None:
            self.finished_at.append(time.perf_counter())

    clock = Clock()
    out = root / f"{executor}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    res = run_suite(jobs, out, executor, workers=None if executor == "local" else workers, formats=["json"],
                    events=clock, compare=False, factories=factories)  # fmt: skip
    wall = time.perf_counter() - t0
    # Steady state: jobs finished after the first one, over the time since (no start-up).
    ends = clock.finished_at
    steady = (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 and ends[-1] > ends[0] else float("nan")
    runs = [r for r in res.document["runs"] if r["status"] == "ok"]
    assert len(runs) == len(jobs), f"{executor}: {len(jobs) - len(runs)} jobs failed"
    job_walls = [r["wall_time"] for r in runs]
    slots = 1 if executor == "local" else workers
    return {
        "wall": wall,
        "jobs_per_s": len(jobs) / wall,
        "steady_jobs_per_s": steady,
        "job_wall": statistics.mean(job_walls),
        "overhead": (wall * slots - sum(job_walls)) / len(jobs),
        "returns": {r["job_id"]: r["episode_returns"] for r in runs},
    }


def append_cost(root: Path, n_records: int = 130, reps: int = 5) -> float:
    """Seconds per ResultsStore.append when the run dir already holds ``n_records`` records."""
    from wmbench_core.envs.games import ATARI100K_GAMES
    from wmbench_core.results import ResultsStore

    store = ResultsStore(root / "append")
    shutil.rmtree(store.out_dir, ignore_errors=True)
    store.prepare()
    games = list(ATARI100K_GAMES)
    records = [{"job_id": f"a|default|{games[i % 26]}|{i // 26}", "agent": "a", "preset": "default",
                "game": games[i % 26], "seed": i // 26, "status": "ok", "episode_returns": [float(i)] * 100,
                "episode_lengths": [1000] * 100, "wall_time": 1.0} for i in range(n_records + reps)]  # fmt: skip
    lines = "".join(__import__("json").dumps(r) + "\n" for r in records[:n_records])
    store.runs_path.write_text(lines)
    times = []
    for r in records[n_records:]:
        t0 = time.perf_counter()
        store.append(r)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="catch")
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=1500, help="evaluation episodes per job")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--executors", default="local,process,ray")
    parser.add_argument(
        "--workload",
        default="cpu",
        choices=["cpu", "sleep"],
        help="cpu: the random agent's evaluation; sleep: jobs that sleep 0.5 s then play 20 episodes",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat all configurations, report medians")
    args = parser.parse_args()

    from wmbench_core.executors import available_cores, ray_available
    from wmbench_core.suite import plan_suite

    suite = "catch" if args.game == "catch" else "atari100k"
    games = None if suite == "catch" else [args.game]
    factories = None
    if args.workload == "sleep":
        # workers import this file as the module "bench_suite" (spawn passes sys.path; Ray
        # workers inherit PYTHONPATH from the raylet started below)
        here = str(Path(__file__).resolve().parent)
        sys.path.insert(0, here)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
        factories = {"sleepy": "bench_suite:SleepAgent"}
        jobs = plan_suite(suite, ["sleepy"], range(args.jobs), games, episodes=20, eval_envs=8)
    else:
        jobs = plan_suite(suite, ["random"], range(args.jobs), games, episodes=args.episodes, eval_envs=8)
    worker_counts = [int(w) for w in args.workers.split(",")]
    executors = [e for e in args.executors.split(",") if e]
    if "ray" in executors and not ray_available():
        print("ray is not installed (pip install 'wmbench[ray]'): skipping the Ray executor")
        executors.remove("ray")
    root = Path(tempfile.mkdtemp(prefix="wmbench-bench-suite-"))
    what = (f"random agent, {args.game}, {args.episodes} episodes each" if args.workload == "cpu"
            else f"0.5 s sleep + 20 episodes of {args.game} each")  # fmt: skip
    print(f"{args.jobs} jobs ({what}); {available_cores()} cores; load average {os.getloadavg()[0]:.1f}")
    runs: dict[tuple[str, int], list[dict]] = {}
    try:
        # Rounds interleave the configurations, so that a burst of load from other processes
        # hits all of them alike; the summary takes the median over rounds.
        for rnd in range(args.rounds):
            for executor in executors:
                if executor == "ray":
                    import ray

                    from wmbench_core.executors import start_ray

                    start_ray(num_cpus=max(worker_counts), include_dashboard=False, log_to_driver=False,
                              configure_logging=False)  # fmt: skip
                try:
                    for w in [1] if executor == "local" else worker_counts:
                        load = os.getloadavg()[0]
                        r = run_config(executor, w, jobs, root, factories)
                        runs.setdefault((executor, w), []).append(r)
                        print(f"round {rnd + 1} {executor:8s} workers {w}: wall {r['wall']:6.1f} s  "
                              f"steady {r['steady_jobs_per_s']:5.2f} jobs/s  mean job {r['job_wall']:5.2f} s  "
                              f"overhead/job {r['overhead'] * 1000:5.0f} ms  (load average {load:.1f})",
                              flush=True)  # fmt: skip
                finally:
                    if executor == "ray":
                        ray.shutdown()
        print(f"\nmedian of {args.rounds} round(s); speedup = same executor, 1 worker -> n workers:")
        med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall", "jobs_per_s", "steady_jobs_per_s",
                                                                     "job_wall", "overhead")}
               for k, v in runs.items()}  # fmt: skip
        for (executor, w), r in med.items():
            base = med.get((executor, 1), r)
            print(f"{executor:8s} workers {w}: wall {r['wall']:6.1f} s  {r['jobs_per_s']:5.2f} jobs/s "
                  f"(speedup {base['wall'] / r['wall']:4.2f}x)  steady {r['steady_jobs_per_s']:5.2f} jobs/s "
                  f"(speedup {r['steady_jobs_per_s'] / base['steady_jobs_per_s']:4.2f}x)  "
                  f"mean job {r['job_wall']:5.2f} s  overhead/job {r['overhead'] * 1000:5.0f} ms")  # fmt: skip
        first = next(iter(runs.values()))[0]["returns"]
        same = all(r["returns"] == first for v in runs.values() for r in v)
        print(f"identical episode returns across all configurations: {same}")
        print(f"ResultsStore.append into a run dir of 130 records: {append_cost(root) * 1000:.0f} ms "
              "(document rewrite incl. bootstrap CIs)")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
