"""Aggregate metrics over score matrices, as defined by rliable (Agarwal et al. 2021).

A score matrix is ``(runs, games)``. Definitions (shared/research/benchmarking.md §1.2):

* ``aggregate_mean``   — mean over games of the per-game run means
* ``aggregate_median`` — median over games of the per-game run means
* ``aggregate_iqm``    — ``scipy.stats.trim_mean(x, 0.25)`` of all entries (floor rule)
* ``optimality_gap``   — ``1 - mean(min(x, 1))`` over all entries

Single-game helpers kept from the earlier harness: :func:`iqm_of_array`,
:func:`bootstrap_iqm_ci`, :func:`compute_aggregate_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from wmbench_core.metrics.bootstrap import stratified_bootstrap_ci

__all__ = [
    "aggregate_iqm",
    "aggregate_mean",
    "aggregate_median",
    "bootstrap_iqm_ci",
    "compute_aggregate_metrics",
    "iqm_of_array",
    "optimality_gap",
    "stratified_bootstrap_ci",
    "trim_mean",
]


def trim_mean(x: np.ndarray, proportion: float = 0.25, axis: int = -1) -> np.ndarray:
    """``scipy.stats.trim_mean`` along ``axis``: drop ``int(proportion * n)`` values per side."""
    x = np.sort(np.asarray(x, dtype=np.float64), axis=axis)
    n = x.shape[axis]
    cut = int(proportion * n)
    return np.take(x, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def aggregate_mean(scores: np.ndarray) -> float:
    return float(np.mean(np.mean(scores, axis=0)))


def aggregate_median(scores: np.ndarray) -> float:
    return float(np.median(np.mean(scores, axis=0)))


def aggregate_iqm(scores: np.ndarray) -> float:
    return float(trim_mean(np.asarray(scores).reshape(-1)))


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    return float(gamma - np.mean(np.minimum(scores, gamma)))


def iqm_of_array(xs: Sequence[float] | np.ndarray) -> float:
    """Interquartile mean of a 1-D array (scipy's trim_mean at 25%)."""
    xs = np.asarray(xs, dtype=np.float64).reshape(-1)
    if xs.size == 0:
        return float("nan")
    return float(trim_mean(xs))


def bootstrap_iqm_ci(
    xs: Sequence[float] | np.ndarray,
    num_samples: int = 2000,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the IQM of a 1-D sample (resampling with replacement)."""
    xs = np.asarray(xs, dtype=np.float64).reshape(-1)
    if xs.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = stratified_bootstrap_ci(
        xs[:, None], aggregate_iqm_batched, reps=num_samples, alpha=alpha, seed=seed
    )
    return (float(lo), float(hi))


def aggregate_iqm_batched(samples: np.ndarray) -> np.ndarray:
    """IQM of each ``(runs, games)`` matrix in a ``(reps, runs, games)`` stack."""
    return trim_mean(samples.reshape(samples.shape[0], -1), axis=-1)


def aggregate_mean_batched(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1).mean(axis=-1)


def aggregate_median_batched(samples: np.ndarray) -> np.ndarray:
    return np.median(samples.mean(axis=1), axis=-1)


def optimality_gap_batched(samples: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    return gamma - np.minimum(samples, gamma).reshape(samples.shape[0], -1).mean(axis=-1)


BATCHED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": aggregate_mean_batched,
    "median": aggregate_median_batched,
    "iqm": aggregate_iqm_batched,
    "optimality_gap": optimality_gap_batched,
}


def compute_aggregate_metrics(
    per_seed_means: Sequence[float] | np.ndarray,
    num_samples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float | list[float]]:
    """Mean, median, IQM and a bootstrap IQM CI of per-seed mean returns of one game."""
    xs = np.asarray(per_seed_means, dtype=np.float64).reshape(-1)
    if xs.size == 0:
        return {"mean": float("nan"), "median": float("nan"), "iqm": float("nan"),
                "std": float("nan"), "iqm_ci": [float("nan"), float("nan")], "n": 0}  # fmt: skip
    lo, hi = bootstrap_iqm_ci(xs, num_samples=num_samples, alpha=alpha, seed=seed)
    return {
        "mean": float(xs.mean()),
        "median": float(np.median(xs)),
        "iqm": iqm_of_array(xs),
        "std": float(xs.std(ddof=1)) if xs.size > 1 else 0.0,
        "iqm_ci": [lo, hi],
        "n": int(xs.size),
    }
