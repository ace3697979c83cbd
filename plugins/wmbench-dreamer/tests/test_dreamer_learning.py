"""Slow learning tests: each Dreamer (tiny preset) learns ``catch`` well above the random agent.

Random play scores about -0.75 on catch (wmbench_core.envs.catch.CATCH_RANDOM_RETURN) and the
optimum is +1. A mean of 0.3 over 100 evaluation episodes (V3: sampled actions; V1/V2: the
actor's mode, as each paper's code evaluates) means catching the ball in 65% of the episodes vs
22% at random; with returns of +-1 the standard error of that mean is below 0.1, so the threshold
is > 8 standard errors above random play.

CPU runs are deterministic per seed on one machine, but not across machines (CPU kernels round
differently), so a single seed's result varies between machines as between seeds. Each Dreamer
is therefore judged, as RL results are reported, on the mean over two seeds (0 and 1).

Measured on the shared 2-core machine, one torch thread:

* DreamerV3 tiny (16x16 frames, 6,000 env steps = 5,500 updates since 2026-12-08; before, 4,000). On the
  machine of 2026-11-23: 0.76 (seed 0), 0.58 (seed 1). On the machine of 2026-12-01/02: 0.28
  (seed 0, also CI's figure), 0.94 (seed 1), 0.42 (seed 2); longer training helped seed 2 (0.60 /
  0.80 at 5,500 / 7,000 steps) but not seed 0 (0.34 / 0.30), so the budget stayed 4,000 then.
  Its world model first draws the ball after ~1,500 updates; before the tiny preset moved to
  16x16 frames and a 10x entropy bonus it stayed near random. With the inverse-CDF categorical
  sampler (2026-12-02; same distribution, another random stream): 0.78 (seed 0), 0.84 (seed 1),
  ~350 s per seed with two runs side by side. With imagination on class indices (same maths,
  other rounding; 2026-12-03): 0.74 (seed 0), 0.94 (seed 1), ~455 s per seed side by side;
  with the RSSM loop's weight gradients once per sequence (2026-12-03): 0.58 (seed 0), 0.90 (seed 1).
  With the large products on oneDNN (2026-12-08, an AMD EPYC with AVX-512): 0.48 (seed 0), 0.26
  (seed 1), mean 0.37; V2 0.68 (seed 0), 0.98 (seed 1); V1 0.66 (seed 0), 0.66 (seed 1). V3
  seeds 2 and 3 on the same machine: 0.74 and 0.08 (~237 s each side by side): the mean of seeds
  0-3 is 0.39, close to the bar. Its reward head was right on real data (+0.87 on real catches);
  the weak seeds were still learning (seed 3's last 1,000 training steps: 56 catches, 69 misses).
  The preset now trains **6,000** env steps (5,500 updates): seeds 0-3 0.56, 0.82, 0.70, 0.82
  (mean 0.73; 360-380 s each, two side by side).
* DreamerV2 tiny (LayerNorm in CNN/MLPs, 7,000 env steps = 6,500 updates): 0.96 (seed 0), ~920 s.
  With the inverse-CDF sampler (2026-12-02): 0.98 evaluated with the mode (the test's policy),
  0.96 with sampled actions, 869 s.
  With LayerNorm but only 4,000 steps it reached 0.0; without LayerNorm (V2's own CNN) the world
  model had not learned to draw the ball after 3,000 updates.
* DreamerV1 tiny (LayerNorm in CNN/MLPs, epsilon decay, 15,000 env steps). -0.66 without
  exploration, -0.32 with epsilon-greedy 0.3 after
  4,000 env steps (its un-normalised CNN learns the ball slowly); with LayerNorm (the tiny preset now,
  as V2's) a chunked run of seed 0 rose -0.90 / -0.46 / -0.04 / 0.24 at 2k / 4k / 6k / 8k env steps,
  and this test at the preset's 10,000 steps measured 0.06 (2,066 s, machine shared); with the
  inverse-CDF sampler (2026-12-02): 0.18 evaluated with the mode (V1's evaluation policy), 0.04
  with sampled actions (1,291 s); actor lr 1e-3 instead of 3e-4: 0.18 again; epsilon decayed
  (half-life 3,000 env steps, floor 0.05; now the preset): 0.34 with the mode, 0.22 sampled
  (1,153 s); seed 1 with the decay: 0.58 with the mode, 0.44 sampled (1,146 s). Like V3, it is
  judged on the mean of seeds 0 and 1 (0.46 here). After V1/V2's first decoder layer became a
  matrix product (same maths, other rounding): 0.04 (seed 0), 0.76 (seed 1), mean 0.40; V2 seed
  0: 0.94 (2026-12-02); with imagination on class indices, V2 seed 0: 0.84 (2026-12-03);
  with the per-sequence weight gradients: 0.96. V1 following its code more closely (2026-12-04:
  stop-gradient policy input, Keras GRU init): 0.12 and 0.12 at 10,000 env steps, hence 15,000:
  -0.12 (seed 0) and 0.80 (seed 1), mean 0.34 (~1,715 s each, two side by side); V2 with its
  decoupled weight decay: 1.00 (seed 0). With V2's own return indexing (``return_layout=state``,
  2026-12-05): -0.16 (seed 0, 679 s) and 1.00 (seed 1, 674 s), mean 0.42; judged on the mean of
  seeds 0 and 1 since. Three V1 variants checked on 2026-12-05 (evaluated along
  the way, which shifts the random streams) and not kept: V1's in-episode replay windows
  (``replay_sampling=episode``, ``seq_len=7``) -0.48 / -0.20 / 0.58 at 5k / 10k / 15k steps (seed
  0), -0.30 / 0.06 / -0.54 (seed 1); V1's own actor and critic lr 8e-5: -0.14 / 0.04 at 10k / 15k
  (seed 0), -0.18 / 0.08 (seed 1); V1's own return indexing (``return_layout=state_after_start``,
  its atari100k default): -0.60 / -0.50 / -0.26 at 5k / 10k / 15k (seed 0), -0.22 / -0.14 / 0.32
  (seed 1), so the tiny preset keeps V3's.

V3 and V2 run in CI's ``nox -s slow`` (two pytest-xdist workers that steal each other's pending
tests). V1 (~60 min for its two seeds) carries the ``long`` marker and runs in ``nox -s long``:
with it and IRIS's learning test (~29 min) the slow session no longer fitted in CI's 90 minutes.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from wmbench_dreamer.agent import DreamerV1Agent, DreamerV2Agent, DreamerV3Agent

from wmbench_core.envs import EnvSpec
from wmbench_core.envs.catch import CATCH_RANDOM_RETURN

THRESHOLD = 0.3
EPISODES = 100

pytestmark = pytest.mark.slow


def _learn(cls, seed: int = 0) -> tuple[float, float]:
    torch.set_num_threads(1)  # the CI machine has 2 cores shared with other jobs
    agent = cls(env=EnvSpec("catch"), preset="tiny", seed=seed)
    t0 = time.perf_counter()
    agent.train(agent.default_train_steps())
    seconds = time.perf_counter() - t0
    returns = agent.evaluate(EPISODES)["episode_returns"]
    assert len(returns) == EPISODES
    return float(np.mean(returns)), seconds


@pytest.mark.long
def test_dreamerv1_learns_catch():
    """The longest of the learning tests (~29 min per seed on one thread): ``nox -s long``."""
    results = [_learn(DreamerV1Agent, seed) for seed in (0, 1)]
    means = [mean for mean, _ in results]
    print(f"dreamerv1 tiny catch: mean returns {means} on seeds 0, 1 (random {CATCH_RANDOM_RETURN}) "
          f"in {sum(s for _, s in results):.0f} s")
    assert np.mean(means) > THRESHOLD


@pytest.mark.slow(minutes=30)
def test_dreamerv3_learns_catch():
    results = [_learn(DreamerV3Agent, seed) for seed in (0, 1)]
    means = [mean for mean, _ in results]
    print(f"dreamerv3 tiny catch: mean returns {means} on seeds 0, 1 (random {CATCH_RANDOM_RETURN}) "
          f"in {sum(s for _, s in results):.0f} s")
    assert np.mean(means) > THRESHOLD


@pytest.mark.slow(minutes=24)
def test_dreamerv2_learns_catch():
    results = [_learn(DreamerV2Agent, seed) for seed in (0, 1)]
    means = [mean for mean, _ in results]
    print(f"dreamerv2 tiny catch: mean returns {means} on seeds 0, 1 (random {CATCH_RANDOM_RETURN}) "
          f"in {sum(s for _, s in results):.0f} s")
    assert np.mean(means) > THRESHOLD


