"""Stratified bootstrap, vectorised (rliable's ``StratifiedBootstrap`` without the Python loop).

Strata are games: each replicate resamples the runs of every game independently, with
replacement, and keeps the set of games (``task_bootstrap=True`` resamples the games too, as
rliable does). Replicates are drawn in chunks of a ``(r, runs, games)`` index array, so memory
stays bounded whatever ``reps`` is, and every statistic of a call sees the same replicates.
Confidence intervals are percentile intervals (rliable's default method).

Seeded by an explicit ``numpy.random.Generator`` (or an int seed): the same seed gives the same
CI bit for bit. (rliable seeds nothing: its ``update_indices`` draws from numpy's global state.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

# Resampled entries per chunk: small enough to stay in cache-friendly sizes, large enough that
# numpy's per-call overhead is negligible.
_CHUNK_ELEMENTS = 1_000_000


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """An explicit generator: pass one through, or build PCG64 from an int seed."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _chunk_sizes(reps: int, entries_per_rep: int) -> Iterator[int]:
    chunk = max(1, _CHUNK_ELEMENTS // max(entries_per_rep, 1))
    done = 0
    while done < reps:
        r = min(chunk, reps - done)
        yield r
        done += r


def _index_dtype(upper: int) -> type:
    # Small integer types make the generator several times faster (and still exact).
    return np.uint8 if upper <= 256 else np.int32 if upper < 2**31 else np.int64


def stratified_bootstrap_indices(
    runs: int, games: int, reps: int, rng: np.random.Generator, task_bootstrap: bool = False
) -> np.ndarray:
    """``(reps, runs, games)`` flat indices into a C-ordered ``(runs, games)`` matrix: entry
    ``[r, i, g]`` is run ``idx`` of game ``g`` (or of a resampled game with ``task_bootstrap``)."""
    run_idx = rng.integers(0, runs, size=(reps, runs, games), dtype=_index_dtype(runs))
    if task_bootstrap:
        game_idx = rng.integers(0, games, size=(reps, 1, games), dtype=_index_dtype(games)).astype(np.intp)
    else:
        game_idx = np.arange(games, dtype=np.intp)
    # One flat gather is faster than two-array fancy indexing.
    return run_idx.astype(np.intp) * games + game_idx


def index_chunks(
    runs: int, games: int, reps: int, rng: np.random.Generator, task_bootstrap: bool = False
) -> Iterator[np.ndarray]:
    """Yield flat index stacks (see :func:`stratified_bootstrap_indices`) adding up to ``reps``."""
    for r in _chunk_sizes(reps, runs * games):
        yield stratified_bootstrap_indices(runs, games, r, rng, task_bootstrap)


def stratified_bootstrap_samples(
    scores: np.ndarray,
    reps: int,
    rng: np.random.Generator,
    task_bootstrap: bool = False,
) -> np.ndarray:
    """``(reps, runs, games)`` resampled score matrices (runs resampled within each game)."""
    runs, games = scores.shape
    return scores.reshape(-1)[stratified_bootstrap_indices(runs, games, reps, rng, task_bootstrap)]


def resample_chunks(
    scores: np.ndarray, reps: int, rng: np.random.Generator, task_bootstrap: bool = False
) -> Iterator[np.ndarray]:
    """Yield ``(r, runs, games)`` replicate stacks whose ``r`` add up to ``reps``."""
    flat = scores.reshape(-1)
    for idx in index_chunks(*scores.shape, reps, rng, task_bootstrap):
        yield flat[idx]


def check_scores(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty (runs, games) matrix, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return scores


def bootstrap_distribution(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    reps: int = 50_000,
    seed: int | np.random.Generator = 0,
    task_bootstrap: bool = False,
) -> np.ndarray:
    """The statistic over ``reps`` stratified replicates; ``statistic`` maps (r, runs, games) -> (r, ...)."""
    scores = check_scores(scores)
    rng = as_generator(seed)
    return np.concatenate([statistic(s) for s in resample_chunks(scores, reps, rng, task_bootstrap)])


def percentile_interval(dist: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile ``1 - alpha`` interval of a bootstrap distribution along axis 0."""
    lo, hi = np.percentile(dist, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return lo, hi


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
    lo, hi = percentile_interval(dist, alpha)
    return float(lo), float(hi)


def independent_bootstrap_pairs(
    x: np.ndarray,
    y: np.ndarray,
    reps: int,
    rng: np.random.Generator,
    task_bootstrap: bool = False,
    entries_per_rep: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Chunks of replicate pairs, each algorithm's runs resampled independently per game
    (rliable's ``StratifiedIndependentBootstrap``); with ``task_bootstrap`` both share the games."""
    games = x.shape[1]
    per_rep = entries_per_rep or (x.size + y.size + x.shape[0] * y.shape[0] * games)
    for r in _chunk_sizes(reps, per_rep):
        if task_bootstrap:
            game_idx = rng.integers(0, games, size=(r, 1, games)).astype(np.intp)
        else:
            game_idx = np.arange(games, dtype=np.intp)
        xi = rng.integers(0, x.shape[0], size=(r, x.shape[0], games), dtype=_index_dtype(x.shape[0]))
        yi = rng.integers(0, y.shape[0], size=(r, y.shape[0], games), dtype=_index_dtype(y.shape[0]))
        yield (
            x.reshape(-1)[xi.astype(np.intp) * games + game_idx],
            y.reshape(-1)[yi.astype(np.intp) * games + game_idx],
        )
