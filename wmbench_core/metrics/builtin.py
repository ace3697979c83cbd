"""The core's metric specs (registered through the ``wmbench_metrics`` hook)."""

from __future__ import annotations

from wmbench_core.specs import MetricSpec

BUILTIN_METRICS = (
    MetricSpec("mean", "wmbench_core.metrics:aggregate_mean", "mean over games of run means"),
    MetricSpec("median", "wmbench_core.metrics:aggregate_median", "median over games of run means"),
    MetricSpec("iqm", "wmbench_core.metrics:aggregate_iqm", "interquartile mean of all runs x games"),
    MetricSpec(
        "optimality_gap",
        "wmbench_core.metrics:optimality_gap",
        "1 - mean(min(score, 1)) over all runs x games",
        higher_is_better=False,
    ),
)
