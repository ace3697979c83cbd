"""Evaluation throughput: the core's batched evaluate (random agent, 8 parallel episodes) vs a
plain one-env gymnasium loop, in one run, as a ratio. Also times `wmbench list-agents`.

    python benchmarks/bench_eval.py [--game Pong] [--steps 20000] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np


def plain_gymnasium_loop(game: str, steps: int) -> float:
    """Agent steps/s of one gymnasium env + AtariPreprocessing under the same protocol."""
    from wmbench_core.envs import make_env_spec

    env = make_env_spec(game).make()
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    n = env.action_space.n
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(int(rng.integers(n)))
        if term or trunc:
            env.reset()
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt


def batched_evaluate(game: str, episodes: int, num_envs: int = 8) -> float:
    """Agent steps/s of RandomAgent.evaluate: `episodes` episodes over `num_envs` envs, counting
    only the steps of recorded episodes (env start-up and steps of envs past their quota are
    included in the time: this is what a user waits for)."""
    from wmbench_core.agents.random_agent import RandomAgent
    from wmbench_core.envs import make_env_spec

    agent = RandomAgent(env=make_env_spec(game), seed=0)
    t0 = time.perf_counter()
    res = agent.evaluate(episodes, num_envs=num_envs)
    return sum(res["episode_lengths"]) / (time.perf_counter() - t0)


def list_agents_seconds() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wmbench_core", "list-agents", "--json"], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--game", default="Pong")
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--episodes", type=int, default=32, help="episodes per batched evaluation")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    plain, batched = [], []
    for _ in range(args.reps):  # interleaved, so both see the same machine load
        plain.append(plain_gymnasium_loop(args.game, args.steps))
        batched.append(batched_evaluate(args.game, args.episodes))
    p, b = statistics.median(plain), statistics.median(batched)
    print(f"{args.game}: plain gymnasium loop {p:,.0f} agent steps/s; "
          f"wmbench evaluate ({args.episodes} episodes on 8 envs) {b:,.0f} steps/s; "
          f"ratio {b / p:.2f}x (median of {args.reps})")
    times = sorted(list_agents_seconds() for _ in range(5))
    print(f"wmbench list-agents: median {times[2]:.3f} s (min {times[0]:.3f}, max {times[-1]:.3f}), "
          "interpreter start included")


if __name__ == "__main__":
    main()
