"""Slow tests (``nox -s slow`` / ``pytest -m slow``): IRIS learns catch; an Atari smoke run
through the ``wmbench run`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import torch

from wmbench_core.envs import make_env_spec
from wmbench_core.envs.catch import CATCH_RANDOM_RETURN
from wmbench_core.testing import one_thread_env

pytestmark = pytest.mark.slow


@pytest.mark.slow(minutes=19)
def test_tiny_iris_learns_catch(tmp_path):
    """The `tiny` preset, trained for its default budget, must clearly beat a random policy.

    Random play scores -0.75 and a perfect policy +1. The bar, a mean above +0.3 over 100
    evaluation episodes, means the paddle ends under the ball in more than 65% of episodes
    (random: 12.6%); with 100 episodes the standard error of the mean is at most 0.1, so a
    random-level policy cannot pass by luck (it would need a deviation of more than 8 standard
    errors).
    """
    from wmbench_iris.agent import IrisAgent

    from wmbench_core.learning.allocator import tune_malloc

    tune_malloc()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids synchronisation overhead
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            agent = IrisAgent(env=make_env_spec("catch"), preset="tiny", seed=0, work_dir=tmp_path)
        t0 = time.perf_counter()
        agent.train(agent.default_train_steps())
        result = agent.evaluate(100)
        elapsed = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    mean = float(np.mean(result["episode_returns"]))
    print(f"iris tiny on catch: mean return {mean:.3f} over 100 episodes "
          f"(random {CATCH_RANDOM_RETURN}), {elapsed:.0f} s")
    assert len(result["episode_returns"]) == 100
    assert mean > 0.3, f"mean return {mean:.3f} (random {CATCH_RANDOM_RETURN})"
    assert (tmp_path / "losses.csv").is_file()


@pytest.mark.slow(minutes=2.5)
def test_atari100k_smoke_pong_through_cli(tmp_path):
    """Paper-size models end to end on Pong through `wmbench run`: a few hundred env steps,
    one short epoch of every component, one evaluation episode."""
    sets = {
        "training.tokenizer_start_after_epochs": 0,
        "training.world_model_start_after_epochs": 0,
        "training.actor_critic_start_after_epochs": 1,
        "training.tokenizer_steps_per_epoch": 1,
        "training.world_model_steps_per_epoch": 1,
        "training.actor_critic_steps_per_epoch": 1,
        "training.tokenizer_batch_size": 8,
        "training.world_model_batch_size": 2,
        "training.actor_critic_batch_size": 2,
        "actor_critic.imagine_horizon": 4,
        "actor_critic.burn_in": 4,
    }
    args = [sys.executable, "-m", "wmbench_core", "run", "--agent", "iris", "--game", "ALE/Pong-v5",
            "--seeds", "1", "--episodes", "1", "--eval-envs", "1", "--train-steps", "300",
            "--out-dir", str(tmp_path), "--format", "json"]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    proc = subprocess.run(args, capture_output=True, env=one_thread_env(), text=True, stdin=subprocess.DEVNULL,
                          timeout=3600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "benchmark_results.json").read_text())
    text = json.dumps(doc)
    assert "iris" in text and "Pong" in text
    losses = list(tmp_path.rglob("losses.csv"))
    assert losses, "no losses.csv written"
    header = losses[0].read_text().splitlines()[0]
    assert "tokenizer/l1" in header and "world_model/obs" in header and "actor_critic/value" in header
