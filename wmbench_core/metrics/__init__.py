"""Aggregate metrics over score matrices, as defined by rliable (Agarwal et al. 2021).

A score matrix is ``(runs, games)`` (human-normalised for Atari). Definitions
(shared/research/benchmarking.md §1.2), each checked against rliable 1.2.0 in tests/stats:

* ``aggregate_mean``   — mean over games of the per-game run means
* ``aggregate_median`` — median over games of the per-game run means
* ``aggregate_iqm``    — ``scipy.stats.trim_mean(x, 0.25)`` of all entries, flattened; scipy cuts
  ``int(0.25 n)`` per side, so 5 runs x 26 games averages the middle 66 of 130 values
* ``optimality_gap``   — ``gamma - mean(min(x, gamma))`` over all entries, gamma = 1
* ``probability_of_improvement(x, y)`` — per game ``U / (n_x n_y)`` with U the Mann-Whitney
  statistic of ``x > y`` (ties count 1/2), averaged over games (runs counts may differ)
* ``performance_profile`` — run-score distribution: fraction of all runs x games entries
  *strictly greater* than each tau; ``kind="average"``: fraction of games whose run mean is > tau

Every metric has a batched twin over ``(reps, runs, games)`` stacks (attribute ``.batched``),
which the vectorised stratified bootstrap (:mod:`.bootstrap`) uses for its confidence intervals.
A third-party metric (a ``MetricSpec`` from the ``wmbench_metrics`` hook) may attach its own
``.batched`` function; otherwise it is applied replicate by replicate.

Single-game helpers kept from the earlier harness: :func:`iqm_of_array`,
:func:`bootstrap_iqm_ci`, :func:`compute_aggregate_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from wmbench_core.metrics.bootstrap import (
    as_generator,
    check_scores,
    independent_bootstrap_pairs,
    index_chunks,
    percentile_interval,
    resample_chunks,
    stratified_bootstrap_ci,
)

__all__ = [
    "AGGREGATE_REPS",
    "BATCHED",
    "PROFILE_REPS",
    "Interval",
    "aggregate_iqm",
    "aggregate_mean",
    "aggregate_median",
    "batched_metric",
    "bootstrap_iqm_ci",
    "compute_aggregate_metrics",
    "interval_estimates",
    "iqm_of_array",
    "optimality_gap",
    "performance_profile",
    "performance_profile_ci",
    "probability_of_improvement",
    "probability_of_improvement_ci",
    "stratified_bootstrap_ci",
    "trim_mean",
]

AGGREGATE_REPS = 50_000  # rliable's get_interval_estimates default
PROFILE_REPS = 2_000  # rliable's create_performance_profile default (also used for PoI)


# --------------------------------------------------------------------------- point estimates
def trim_mean(x: np.ndarray, proportion: float = 0.25, axis: int = -1) -> np.ndarray:
    """``scipy.stats.trim_mean`` along ``axis``: drop ``int(proportion * n)`` values per side."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    n = x.shape[-1]
    cut = int(proportion * n)
    if cut == 0:
        return x.mean(axis=-1)
    # A partition around both cut points puts exactly the kept values in [cut, n - cut), in
    # some order: O(n) instead of a full sort.
    part = np.partition(x, (cut, n - cut - 1), axis=-1)
    return part[..., cut : n - cut].mean(axis=-1)


def aggregate_mean(scores: np.ndarray) -> float:
    return float(np.mean(np.mean(scores, axis=0)))


def aggregate_median(scores: np.ndarray) -> float:
    return float(np.median(np.mean(scores, axis=0)))


def aggregate_iqm(scores: np.ndarray) -> float:
    return float(trim_mean(np.asarray(scores).reshape(-1)))


def optimality_gap(scores: np.ndarray, gamma: float = 1.0) -> float:
    return float(gamma - np.mean(np.minimum(scores, gamma)))


_PAIRWISE_MAX = 64  # up to this many run pairs, direct comparison beats ranking


def _u_fraction(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``U / (n_x n_y)`` per game for stacks ``x (..., n_x, games)``, ``y (..., n_y, games)``.

    U is the Mann-Whitney statistic of ``x``: the count of pairs with ``x_i > y_j`` plus half
    the ties (what ``scipy.stats.mannwhitneyu(x, y, alternative="greater").statistic`` returns).
    Few runs: direct pairwise comparison. Many runs (e.g. 100 x 100): rank sums with midranks,
    ``U = R_x - n_x (n_x + 1) / 2``; both are exact (half-integers).
    """
    nx, ny = x.shape[-2], y.shape[-2]
    if nx * ny <= _PAIRWISE_MAX:
        xe = x[..., :, None, :]
        ye = y[..., None, :, :]
        wins = np.count_nonzero(xe > ye, axis=(-3, -2))
        ties = np.count_nonzero(xe == ye, axis=(-3, -2))
        return (wins + 0.5 * ties) / (nx * ny)
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([x, y], axis=-2), axis=-2)
    return (ranks[..., :nx, :].sum(axis=-2) - nx * (nx + 1) / 2) / (nx * ny)


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y): per-game probability that a run of X beats a run of Y, averaged over games."""
    x = check_scores(scores_x, "scores_x")
    y = check_scores(scores_y, "scores_y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"scores_x and scores_y need the same games, got {x.shape[1]} and {y.shape[1]}")
    return float(_u_fraction(x, y).mean())


def performance_profile(scores: np.ndarray, taus: Sequence[float] | np.ndarray, kind: str = "run") -> np.ndarray:
    """Fraction of scores strictly greater than each tau (``kind``: "run" or "average")."""
    return _profile_batched(np.asarray(scores, dtype=np.float64)[None], np.asarray(taus, dtype=np.float64), kind)[0]


def _profile_batched(samples: np.ndarray, taus: np.ndarray, kind: str) -> np.ndarray:
    """``(r, runs, games)`` -> ``(r, len(taus))``."""
    if kind == "run":
        flat = np.sort(samples.reshape(samples.shape[0], -1), axis=-1)
    elif kind == "average":
        flat = np.sort(samples.mean(axis=1), axis=-1)
    else:
        raise ValueError(f"unknown profile kind {kind!r}; valid: run, average")
    n = flat.shape[-1]
    # count(x > tau) = n - count(x <= tau); searchsorted per row via a rank trick: compare each
    # tau against the sorted row (T small, so a broadcast comparison is cheap and exact).
    return (flat[:, None, :] > taus[None, :, None]).sum(axis=-1) / n


# ------------------------------------------------------------------ batched twins (bootstrap)
def aggregate_iqm_batched(samples: np.ndarray) -> np.ndarray:
    """IQM of each ``(runs, games)`` matrix in a ``(reps, runs, games)`` stack."""
    return trim_mean(samples.reshape(samples.shape[0], -1), axis=-1)


def aggregate_mean_batched(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1).mean(axis=-1)


def aggregate_median_batched(samples: np.ndarray) -> np.ndarray:
    # Sorting 26 values per row is faster than np.median's partition, and gives the same
    # numbers: the mean of the two middle values (the middle one for an odd count).
    means = np.sort(samples.mean(axis=1), axis=-1)
    k = means.shape[-1]
    return (means[:, (k - 1) // 2] + means[:, k // 2]) / 2


def _trimmed_mean_of_sorted(sorted_rows: np.ndarray, proportion: float = 0.25) -> np.ndarray:
    """``trim_mean`` of rows that are already sorted (used by the bootstrap's rank path)."""
    n = sorted_rows.shape[-1]
    cut = int(proportion * n)
    return sorted_rows[:, cut : n - cut].mean(axis=-1)


def optimality_gap_batched(samples: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    return gamma - np.minimum(samples, gamma).reshape(samples.shape[0], -1).mean(axis=-1)


aggregate_mean.batched = aggregate_mean_batched  # type: ignore[attr-defined]
aggregate_median.batched = aggregate_median_batched  # type: ignore[attr-defined]
aggregate_iqm.batched = aggregate_iqm_batched  # type: ignore[attr-defined]
# A metric of the flattened, sorted replicate (IQM): the bootstrap can hand it rows sorted
# cheaply through integer ranks instead of sorting float rows.
aggregate_iqm.sorted_batched = _trimmed_mean_of_sorted  # type: ignore[attr-defined]
optimality_gap.batched = optimality_gap_batched  # type: ignore[attr-defined]

BATCHED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": aggregate_mean_batched,
    "median": aggregate_median_batched,
    "iqm": aggregate_iqm_batched,
    "optimality_gap": optimality_gap_batched,
}


def batched_metric(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], np.ndarray]:
    """The ``(reps, runs, games) -> (reps,)`` form of a metric (its ``.batched``, or a loop)."""
    batched = getattr(fn, "batched", None)
    if batched is not None:
        return batched

    def loop(samples: np.ndarray) -> np.ndarray:
        return np.array([float(fn(s)) for s in samples], dtype=np.float64)

    return loop


# ----------------------------------------------------------------------- interval estimates
@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile bootstrap confidence interval."""

    value: float
    lo: float
    hi: float

    def as_dict(self) -> dict[str, float | list[float]]:
        return {"value": self.value, "ci": [self.lo, self.hi]}


DEFAULT_METRICS: dict[str, Callable[[np.ndarray], float]] = {
    "median": aggregate_median,
    "iqm": aggregate_iqm,
    "mean": aggregate_mean,
    "optimality_gap": optimality_gap,
}


def interval_estimates(
    scores: np.ndarray,
    metrics: Mapping[str, Callable[[np.ndarray], float]] | None = None,
    reps: int = AGGREGATE_REPS,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
    task_bootstrap: bool = False,
) -> dict[str, Interval]:
    """Point estimates and stratified-bootstrap percentile CIs of several metrics of one matrix.

    All metrics are evaluated on the same replicates (one resampling pass), like rliable's
    ``get_interval_estimates`` with a function returning several aggregates.
    """
    scores = check_scores(scores)
    metrics = dict(metrics or DEFAULT_METRICS)
    points = {name: float(fn(scores)) for name, fn in metrics.items()}
    if reps <= 0:
        return {name: Interval(v, float("nan"), float("nan")) for name, v in points.items()}
    runs, games = scores.shape
    flat_scores = scores.reshape(-1)
    # Sorting a replicate's values is the costly step of the IQM. Replicates only contain the
    # matrix's own entries, so sort their integer ranks instead (SIMD integer sort) and look the
    # values up: the same sorted rows, several times faster than sorting floats.
    order = np.argsort(flat_scores, kind="stable")
    sorted_values = flat_scores[order]
    rank = np.empty(flat_scores.size, dtype=np.int16 if flat_scores.size < 2**15 else np.int64)
    rank[order] = np.arange(flat_scores.size)
    batched = {name: batched_metric(fn) for name, fn in metrics.items()}
    by_sorted = {name: fn.sorted_batched for name, fn in metrics.items() if hasattr(fn, "sorted_batched")}
    dists: dict[str, list[np.ndarray]] = {name: [] for name in metrics}
    for idx in index_chunks(runs, games, reps, as_generator(seed), task_bootstrap):
        samples = flat_scores[idx]
        sorted_rows = None
        for name in metrics:
            if name in by_sorted:
                if sorted_rows is None:
                    ranks = np.sort(rank[idx].reshape(idx.shape[0], -1), axis=-1)
                    sorted_rows = sorted_values[ranks]
                dists[name].append(np.asarray(by_sorted[name](sorted_rows), dtype=np.float64))
            else:
                dists[name].append(np.asarray(batched[name](samples), dtype=np.float64))
    out = {}
    for name, parts in dists.items():
        lo, hi = percentile_interval(np.concatenate(parts), alpha)
        out[name] = Interval(points[name], float(lo), float(hi))
    return out


def probability_of_improvement_ci(
    scores_x: np.ndarray,
    scores_y: np.ndarray,
    reps: int = PROFILE_REPS,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
    task_bootstrap: bool = False,
) -> Interval:
    """P(X > Y) with a CI from resampling each algorithm's runs independently within games."""
    x = check_scores(scores_x, "scores_x")
    y = check_scores(scores_y, "scores_y")
    point = probability_of_improvement(x, y)
    if reps <= 0:
        return Interval(point, float("nan"), float("nan"))
    nx, ny, games = x.shape[0], y.shape[0], x.shape[1]
    per_rep = nx * ny * games if nx * ny <= _PAIRWISE_MAX else 4 * (nx + ny) * games
    pairs = independent_bootstrap_pairs(x, y, reps, as_generator(seed), task_bootstrap, per_rep)
    dist = np.concatenate([_u_fraction(xs, ys).mean(axis=-1) for xs, ys in pairs])
    lo, hi = percentile_interval(dist, alpha)
    return Interval(point, float(lo), float(hi))


def performance_profile_ci(
    scores: np.ndarray,
    taus: Sequence[float] | np.ndarray,
    kind: str = "run",
    reps: int = PROFILE_REPS,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
    task_bootstrap: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(profile, lower, upper)`` over ``taus`` with stratified-bootstrap percentile bands."""
    scores = check_scores(scores)
    taus = np.asarray(taus, dtype=np.float64)
    profile = performance_profile(scores, taus, kind)
    if reps <= 0:
        nan = np.full_like(profile, np.nan)
        return profile, nan, nan
    parts = [_profile_batched(s, taus, kind) for s in resample_chunks(scores, reps, as_generator(seed), task_bootstrap)]
    lo, hi = percentile_interval(np.concatenate(parts), alpha)
    return profile, lo, hi


# ---------------------------------------------------------------- earlier single-game helpers
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
    lo, hi = stratified_bootstrap_ci(xs[:, None], aggregate_iqm_batched, reps=num_samples, alpha=alpha, seed=seed)
    return (float(lo), float(hi))


def compute_aggregate_metrics(
    per_seed_means: Sequence[float] | np.ndarray,
    num_samples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[str, float | list[float]]:
    """Mean, median, IQM and a bootstrap IQM CI of per-seed mean returns of one game."""
    xs = np.asarray(per_seed_means, dtype=np.float64).reshape(-1)
    if xs.size == 0:
        return {
            "mean": float("nan"),
            "median": float("nan"),
            "iqm": float("nan"),
            "std": float("nan"),
            "iqm_ci": [float("nan"), float("nan")],
            "n": 0,
        }
    lo, hi = bootstrap_iqm_ci(xs, num_samples=num_samples, alpha=alpha, seed=seed)
    return {
        "mean": float(xs.mean()),
        "median": float(np.median(xs)),
        "iqm": iqm_of_array(xs),
        "std": float(xs.std(ddof=1)) if xs.size > 1 else 0.0,
        "iqm_ci": [lo, hi],
        "n": int(xs.size),
    }
