"""Learning curves: training-episode returns against env steps, binned so that runs average.

Every job records its training episodes (``train_episodes`` in its record, written by the core's
:mod:`~wmbench_core.envs.episode_log`), so the curves of all agents use the same x axis (agent
steps, 4 frames each) and the same y (raw game score of whole training episodes). A run's curve
is the mean return of the episodes ending in each of ``bins`` equal slices of the step range; the
runs of an entry give the mean over runs and the min-max range (not a confidence interval: a
handful of runs is what a training curve has).

The published training curves of the DreamerV3 code (baseline ``dreamerv3_2024``; x in frames)
come on the same axis, steps = frames / 4, over the step range of the runs they are drawn beside.

:func:`sample_efficiency` aggregates across games, as rliable's sample-efficiency curves do: per
step bin, the IQM over runs and games of each run's (human-normalised) training return, with a
stratified-bootstrap 95% CI.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

#: One run's curve: env steps at which episodes ended, and their returns.
RunCurve = tuple[Sequence[float], Sequence[float]]

BINS = 20


def binned_means(steps: Sequence[float], returns: Sequence[float], edges: np.ndarray) -> np.ndarray:
    """Mean of ``returns`` whose step falls in each bin ``[edges[i], edges[i+1])`` (the last bin
    closed); NaN where no episode ended."""
    steps, returns = np.asarray(steps, dtype=np.float64), np.asarray(returns, dtype=np.float64)
    inside = (steps >= edges[0]) & (steps <= edges[-1])
    which = np.clip(np.searchsorted(edges, steps[inside], side="right") - 1, 0, len(edges) - 2)
    sums = np.bincount(which, returns[inside], minlength=len(edges) - 1)
    counts = np.bincount(which, minlength=len(edges) - 1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def latest_returns(steps: Sequence[float], returns: Sequence[float], edges: np.ndarray) -> np.ndarray:
    """:func:`binned_means`, a bin in which no episode ended holding the bin before it: the
    agent's latest score (long episodes span several bins). NaN before the first episode ends."""
    series = binned_means(steps, returns, edges)
    for i in range(1, len(series)):
        if np.isnan(series[i]):
            series[i] = series[i - 1]
    return series


def sample_efficiency(
    results: Mapping[str, Mapping[str, Sequence[RunCurve]]],
    games: Sequence[str],
    normalize: Callable[[str, np.ndarray], np.ndarray],
    *,
    bins: int = BINS,
    reps: int = 2000,
    seed: int = 0,
    task_bootstrap: bool = False,
) -> dict[str, Any]:
    """Sample-efficiency curves of the entries of ``results`` (label -> game -> run curves)
    that have curves for every game of ``games``: per step bin (``bins`` slices of the longest
    run), the IQM over runs and games of :func:`latest_returns` passed through ``normalize``
    (game, returns -> scores), and its stratified-bootstrap 95% CI. Runs per game are cut to
    the fewest, as for the final scores. A bin where some run has no finished episode yet is
    None. ``{}`` when no entry qualifies."""
    from wmbench_core.metrics import aggregate_iqm, interval_estimates

    ours = {label: curves for label, curves in results.items() if games and all(curves.get(g) for g in games)}
    last = max((max(s) for curves in ours.values() for g in games for s, _ in curves[g] if len(s)), default=0)
    if last <= 0:
        return {}
    edges = np.linspace(0.0, float(last), bins + 1)
    entries = {}
    for i, (label, curves) in enumerate(ours.items()):
        k = min(len(curves[g]) for g in games)
        table = np.stack([np.stack([normalize(g, latest_returns(s, r, edges)) for s, r in curves[g][:k]])
                          for g in games], axis=1)  # fmt: skip  # (runs, games, bins)
        points: list[tuple[float | None, float | None, float | None]] = []
        for b in range(bins):
            m = table[:, :, b]
            if np.isnan(m).any():
                points.append((None, None, None))
                continue
            iv = interval_estimates(m, {"iqm": aggregate_iqm}, reps, seed=seed + i, task_bootstrap=task_bootstrap)
            points.append((iv["iqm"].value, iv["iqm"].lo, iv["iqm"].hi))
        iqm, lo, hi = (list(column) for column in zip(*points))
        entries[label] = {"runs": k, "iqm": iqm, "lo": lo, "hi": hi}
    return {"env_step": ((edges[:-1] + edges[1:]) / 2).tolist(), "games": list(games), "entries": entries}


def summarise_runs(runs: Sequence[RunCurve], edges: np.ndarray) -> dict[str, Any]:
    """Mean over runs and the min-max range per bin (None where no run has an episode)."""
    table = np.stack([binned_means(s, r, edges) for s, r in runs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a bin no run reaches stays NaN
        mean, lo, hi = np.nanmean(table, axis=0), np.nanmin(table, axis=0), np.nanmax(table, axis=0)

    def listed(a: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in a]

    return {"runs": len(runs), "mean": listed(mean), "lo": listed(lo), "hi": listed(hi)}


def learning_curves(
    results: Mapping[str, Mapping[str, Sequence[RunCurve]]],
    published: Mapping[str, Mapping[str, Sequence[RunCurve]]] | None = None,
    bins: int = BINS,
) -> dict[str, Any]:
    """``{game: {"env_step": [bin centres], "entries": {label: summary}}}`` for every game that a
    result entry has curves for; ``results`` and ``published`` map label -> game -> run curves.
    The step range of a game is that of its result runs; published curves are cut to it."""
    out: dict[str, Any] = {}
    games = sorted({g for curves in results.values() for g, runs in curves.items() if runs})
    for game in games:
        ours = {label: curves[game] for label, curves in results.items() if curves.get(game)}
        last = max((max(s) for runs in ours.values() for s, _ in runs if len(s)), default=0)
        if last <= 0:
            continue
        edges = np.linspace(0.0, float(last), bins + 1)
        entries = {label: summarise_runs(runs, edges) for label, runs in ours.items()}
        for label, curves in (published or {}).items():
            if curves.get(game):
                entries[label] = summarise_runs(curves[game], edges)
        out[game] = {"env_step": ((edges[:-1] + edges[1:]) / 2).tolist(), "entries": entries}
    return out


def record_curve(record: Mapping[str, Any]) -> RunCurve | None:
    """A job record's learning curve (None when it has no training episodes)."""
    curve = record.get("train_episodes")
    if not curve or not curve.get("env_step"):
        return None
    return curve["env_step"], curve["return"]


def start_and_end_returns(curve: RunCurve, fraction: float = 0.1) -> tuple[float | None, float | None]:
    """Mean return of the episodes ending in the first and in the last ``fraction`` of a run's
    steps (None where none ends there): did training improve the agent?"""
    steps, returns = np.asarray(curve[0], dtype=np.float64), np.asarray(curve[1], dtype=np.float64)
    if not len(steps):
        return None, None
    span = steps.max()
    first, last = returns[steps <= fraction * span], returns[steps >= (1 - fraction) * span]
    return (float(first.mean()) if len(first) else None, float(last.mean()) if len(last) else None)


def training_summary(records: Sequence[Mapping[str, Any]], fraction: float = 0.1) -> list[dict[str, Any]]:
    """Per (agent, preset, game) with learning curves: runs, training episodes, and the mean over
    runs of the return at the start and at the end of training (:func:`start_and_end_returns`)."""
    groups: dict[tuple[str, str, str], list[tuple[RunCurve, int]]] = {}
    for r in records:
        curve = record_curve(r) if r.get("status") == "ok" else None
        if curve is not None:
            trained = int(r.get("env_steps_trained") or max(curve[0]))
            groups.setdefault((r["agent"], r.get("preset") or "default", r["game"]), []).append((curve, trained))
    out = []
    for (agent, preset, game), runs in groups.items():
        curves = [c for c, _ in runs]
        ends = [start_and_end_returns(c, fraction) for c in curves]
        firsts, lasts = [a for a, _ in ends if a is not None], [b for _, b in ends if b is not None]
        out.append({
            "agent": agent, "preset": preset, "game": game, "runs": len(curves),
            "episodes": sum(len(c[0]) for c in curves), "env_steps": max(n for _, n in runs),
            "start_return": sum(firsts) / len(firsts) if firsts else None,
            "end_return": sum(lasts) / len(lasts) if lasts else None,
        })  # fmt: skip
    return out
