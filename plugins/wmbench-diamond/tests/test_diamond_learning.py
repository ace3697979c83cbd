"""Slow tests: DIAMOND learns catch with the ``tiny`` preset, and the atari100k preset runs end
to end on Breakout through the ``wmbench run`` CLI. Run with ``nox -s slow`` or
``pytest -m slow plugins/wmbench-diamond``."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from wmbench_diamond.agent import DiamondAgent

from wmbench_core.envs import make_env_spec
from wmbench_core.envs.catch import CATCH_RANDOM_RETURN
from wmbench_core.testing import one_thread_env

pytestmark = pytest.mark.slow


# Measured (plugin README, "The tiny preset"): seeds 0-4 scored 1.00, 1.00, 0.72, 1.00, 1.00 with 2000
# env steps (1270 actor-critic, 2700 reward/termination updates), 375-402 s of training each on one
# thread, two runs sharing a 2-core AVX-512 EPYC. With 25 reward/termination updates per epoch seeds
# 1 and 2 failed there (-0.22, -0.68): the reward model scored imagined catches -1.
@pytest.mark.slow(minutes=17)
@pytest.mark.parametrize("seed", [0, 1])
def test_tiny_preset_learns_catch(tmp_path, seed):
    """A uniformly random policy scores about -0.75 on catch (CATCH_RANDOM_RETURN), the optimum is
    +1. A mean above 0.3 over 100 episodes means catching at least 65% of balls; the standard
    error of a 100-episode mean is <= 0.1, so 0.3 is > 10 standard errors above random. Two seeds,
    each of which must pass: one lucky seed proves little."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # small nets: one thread is the fastest setting
    try:
        t0 = time.perf_counter()
        agent = DiamondAgent(env=make_env_spec("catch"), preset="tiny", seed=seed, work_dir=tmp_path)
        summary = agent.train(agent.default_train_steps())
        train_seconds = time.perf_counter() - t0
        returns = agent.evaluate(100, num_envs=10)["episode_returns"]
    finally:
        torch.set_num_threads(before)
    mean = float(np.mean(returns))
    print(f"\ncatch tiny seed {seed}: mean return {mean:.3f} over {len(returns)} episodes (random "
          f"{CATCH_RANDOM_RETURN}), trained {summary['env_steps']} env steps in {train_seconds:.0f} s, "
          f"updates {summary['updates']}")
    assert len(returns) == 100
    assert mean > 0.3, f"mean return {mean:.3f} (random {CATCH_RANDOM_RETURN})"
    assert (tmp_path / "losses.csv").is_file()


@pytest.mark.slow(minutes=1.3)
def test_atari100k_smoke_breakout_through_cli(tmp_path):
    """The paper-sized models on real Breakout frames: a few hundred env steps, a couple of
    updates per component (batches of 8), one evaluation episode, through ``wmbench run``."""
    sets = {
        "training.first_epoch_updates_denoiser": 2,
        "training.first_epoch_updates_rew_end": 2,
        "training.first_epoch_updates_actor_critic": 1,
        "training.updates_per_epoch": 1,
        "training.env_steps_per_epoch": 100,
        # the random initial collection takes the whole 300-step budget (its minimum is 5000), so
        # the one epoch that trains is a final one (reference schedule: epochs = collecting + final)
        "training.final_epochs": 1,
        "training.gif_steps": 2,
        # paper-sized models, smaller batches: a full-batch reward/termination update holds
        # ~6 GB of activations on CPU, too much next to other jobs on a CI runner
        "denoiser.batch_size": 8,
        "rew_end.batch_size": 8,
        "actor_critic.batch_size": 8,
    }
    cmd = [
        sys.executable, "-m", "wmbench_core", "run", "--agent", "diamond", "--game", "Breakout-v5",
        "--seeds", "1", "--episodes", "1", "--train-steps", "300", "--out-dir", str(tmp_path),
        "--checkpoint-every", "100",
    ]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    proc = subprocess.run(cmd, capture_output=True, env=one_thread_env(), text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    docs = list(tmp_path.rglob("benchmark_results.json"))
    assert docs, f"no results in {tmp_path}: {proc.stdout[-2000:]}"
    text = docs[0].read_text()
    doc = json.loads(text)
    assert "diamond" in text and "first_epoch_updates_denoiser" in text  # resolved config recorded
    assert doc
    assert list(tmp_path.rglob("losses.csv")) and list(tmp_path.rglob("checkpoint.pt"))
    assert list(tmp_path.rglob("imagined_rollout*"))
