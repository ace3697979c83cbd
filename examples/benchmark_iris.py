"""Benchmark an agent through the Python API (the earlier harness's interface).

    python examples/benchmark_iris.py            # IRIS if installed, else the random agent
"""

from __future__ import annotations

from wmbench_core import metrics, reporting
from wmbench_core.plugins import get_registry
from wmbench_core.runner import BenchmarkRunner

agent = "iris" if "iris" in get_registry().agents else "random"
runner = BenchmarkRunner(
    agent=agent,
    out_dir="results/bench",
    preset="tiny" if agent == "iris" else None,
    train_steps=2000 if agent == "iris" else None,
)
# IRIS's tiny preset learns the toy `catch` game on a CPU; use {"game": "ALE/Pong-v5"} with the
# atari100k preset on a GPU for the real benchmark.
res = runner.run(env_spec={"game": "catch" if agent == "iris" else "ALE/Pong-v5"}, seeds=[0, 1], num_episodes=5)

xs = res["aggregate"]["per_seed_means"]
print("per-seed means:", xs)
print("IQM:", metrics.iqm_of_array(xs), "95% CI:", metrics.bootstrap_iqm_ci(xs, num_samples=2000, alpha=0.05))
reporting.export_latex(res, "results/bench/benchmark_results.tex")
