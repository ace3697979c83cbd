"""Stratified bootstrap, vectorised (rliable's ``StratifiedBootstrap`` without the Python loop).

Strata are games: each replicate resamples the runs of every game independently, with
replacement, and keeps the set of games (optionally resamples games too). Percentile CIs.
Seeded by an explicit ``numpy.random.Generator``: the same seed gives the same CI, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_CHUNK_ELEMENTS = 4_000_000  # bound memory: reps are processed in chunks of this many entries


def stratified_bootstrap_samples(
    scores: np.ndarray,
    reps: int,
    rng: np.random.Generator,
    task_bootstrap: bool = False,
) -> np.ndarray:
    """``(reps, runs, games)`` resampled score matrices."""
    runs, games = scores.shape
    run_idx = rng.integers(0, runs, size=(reps, runs, games))
    game_idx = (
        rng.integers(0, games, size=(reps, 1, games))
        if task_bootstrap
        else np.broadcast_to(np.arange(games), (reps, 1, games))
    )
    return scores[run_idx, game_idx]


def bootstrap_distribution(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    reps: int = 50_000,
    seed: int | np.random.Generator = 0,
    task_bootstrap: bool = False,
) -> np.ndarray:
    """The statistic over ``reps`` stratified replicates; ``statistic`` maps (r, runs, games) -> (r,)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError("scores must be a (runs, games) matrix")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    chunk = max(1, _CHUNK_ELEMENTS // max(scores.size, 1))
    out = []
    done = 0
    while done < reps:
        r = min(chunk, reps - done)
        out.append(statistic(stratified_bootstrap_samples(scores, r, rng, task_bootstrap)))
        done += r
    return np.concatenate(out)


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    reps: int = 50_000,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
    task_bootstrap: bool = False,
) -> tuple[float, float]:
    """Percentile ``1 - alpha`` confidence interval of ``statistic``."""
    dist = bootstrap_distribution(scores, statistic, reps, seed, task_bootstrap)
    lo, hi = np.percentile(dist, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)
