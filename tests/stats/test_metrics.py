"""The statistics against rliable 1.2.0's own numbers (tests/stats/data) and scipy's definitions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from wmbench_core.metrics import (
    BATCHED,
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    bootstrap_iqm_ci,
    compute_aggregate_metrics,
    interval_estimates,
    iqm_of_array,
    optimality_gap,
    performance_profile,
    performance_profile_ci,
    probability_of_improvement,
    probability_of_improvement_ci,
    trim_mean,
)
from wmbench_core.metrics.bootstrap import stratified_bootstrap_samples

DATA = Path(__file__).parent / "data"
ORDER = ["median", "iqm", "mean", "optimality_gap"]


@pytest.fixture(scope="module")
def vectors() -> dict:
    return json.loads((DATA / "rliable_vectors.json").read_text())


@pytest.fixture(scope="module")
def inputs() -> dict[str, np.ndarray]:
    raw = json.loads((DATA / "hns_inputs.json").read_text())
    return {k: np.asarray(v["hns"]) for k, v in raw.items()}


def test_inputs_are_the_shipped_baselines(inputs):
    from wmbench_core.baselines import load_baseline

    for name, x in inputs.items():
        np.testing.assert_array_equal(load_baseline(name).hns_matrix(), x)


def test_point_estimates_equal_rliable(vectors, inputs):
    fns = {"median": aggregate_median, "iqm": aggregate_iqm, "mean": aggregate_mean, "optimality_gap": optimality_gap}
    for name, x in inputs.items():
        ref = dict(zip(ORDER, vectors["agents"][name]["point"]))
        for metric, fn in fns.items():
            assert fn(x) == pytest.approx(ref[metric], abs=1e-9), (name, metric)


def _ci_tolerance(lo: float, hi: float) -> float:
    # Two independent 50,000-resample percentile estimates: Monte-Carlo error is well under 3% of
    # the CI width (measured max difference: see tests/stats/data/README.md).
    return max(0.004, 0.03 * (hi - lo))


def test_aggregate_cis_match_rliable_within_monte_carlo_error(vectors, inputs):
    for i, (name, x) in enumerate(inputs.items()):
        ours = interval_estimates(x, reps=vectors["aggregate_reps"], seed=i)
        ref = vectors["agents"][name]
        for k, metric in enumerate(ORDER):
            lo, hi = ref["ci_lo"][k], ref["ci_hi"][k]
            tol = _ci_tolerance(lo, hi)
            assert ours[metric].lo == pytest.approx(lo, abs=tol), (name, metric, "lo")
            assert ours[metric].hi == pytest.approx(hi, abs=tol), (name, metric, "hi")


def test_task_bootstrap_matches_rliable(vectors, inputs):
    ours = interval_estimates(inputs["iris"], reps=50_000, seed=3, task_bootstrap=True)
    ref = vectors["task_bootstrap_iris"]
    for k, metric in enumerate(ORDER):
        lo, hi = ref["ci_lo"][k], ref["ci_hi"][k]
        assert ours[metric].lo == pytest.approx(lo, abs=_ci_tolerance(lo, hi)), metric
        assert ours[metric].hi == pytest.approx(hi, abs=_ci_tolerance(lo, hi)), metric
    # resampling games widens the intervals
    plain = interval_estimates(inputs["iris"], reps=20_000, seed=3)
    assert ours["mean"].hi - ours["mean"].lo > plain["mean"].hi - plain["mean"].lo


def test_profiles_match_rliable(vectors, inputs):
    taus = np.asarray(vectors["taus"])
    for name, x in inputs.items():
        ref = vectors["agents"][name]
        for kind, step in (("run", 1 / x.size), ("average", 1 / x.shape[1])):
            prof, lo, hi = performance_profile_ci(x, taus, kind=kind, reps=2000, seed=1)
            np.testing.assert_allclose(prof, ref[f"profile_{kind}"], atol=1e-12)
            # percentile bands of a 2,000-resample bootstrap of k/n fractions: within 2.5 steps
            np.testing.assert_allclose(lo, ref[f"profile_{kind}_lo"], atol=2.5 * step + 1e-9)
            np.testing.assert_allclose(hi, ref[f"profile_{kind}_hi"], atol=2.5 * step + 1e-9)


def test_probability_of_improvement_matches_rliable(vectors, inputs):
    for key, ref in vectors["poi"].items():
        x, y = key.split(",")
        iv = probability_of_improvement_ci(inputs[x], inputs[y], reps=2000, seed=7)
        assert iv.value == pytest.approx(ref["point"], abs=1e-12), key
        assert iv.lo == pytest.approx(ref["ci"][0], abs=0.015), key
        assert iv.hi == pytest.approx(ref["ci"][1], abs=0.015), key


def test_published_aggregates_recompute(inputs):
    assert round(aggregate_mean(inputs["iris"]), 3) == 1.046
    assert round(aggregate_iqm(inputs["iris"]), 3) == 0.501
    assert round(aggregate_mean(inputs["diamond"]), 3) == 1.459
    assert round(aggregate_iqm(inputs["diamond"]), 3) == 0.641


@pytest.mark.parametrize("n", [1, 3, 4, 5, 7, 8, 130, 131, 2600])
def test_trim_mean_is_scipys_floor_rule(n):
    x = np.random.default_rng(n).normal(size=n).round(1)  # rounding makes ties
    assert iqm_of_array(x) == pytest.approx(scipy.stats.trim_mean(x, 0.25), abs=1e-12)
    stack = np.random.default_rng(n).normal(size=(6, n))
    np.testing.assert_allclose(trim_mean(stack, axis=-1), scipy.stats.trim_mean(stack, 0.25, axis=-1), atol=1e-12)


def test_iqm_of_5x26_averages_middle_66():
    x = np.arange(130, dtype=float).reshape(5, 26)
    assert aggregate_iqm(x) == pytest.approx(np.mean(np.arange(32, 98)))


@pytest.mark.parametrize("nx,ny", [(1, 1), (3, 5), (5, 5), (10, 4), (12, 9), (100, 30)])  # pairwise and rank paths
def test_probability_of_improvement_is_mann_whitney(nx, ny):
    rng = np.random.default_rng(nx * 10 + ny)
    x = rng.integers(0, 4, size=(nx, 6)).astype(float)  # many ties
    y = rng.integers(0, 4, size=(ny, 6)).astype(float)
    expected = np.mean(
        [scipy.stats.mannwhitneyu(x[:, g], y[:, g], alternative="greater").statistic / (nx * ny) for g in range(6)]
    )
    assert probability_of_improvement(x, y) == pytest.approx(expected, abs=1e-12)
    assert probability_of_improvement(x, y) + probability_of_improvement(y, x) == pytest.approx(1.0)
    assert probability_of_improvement(x, x) == 0.5


def test_profiles_count_strictly_greater():
    x = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 3.0]])
    taus = np.array([-1.0, 0.0, 1.0, 2.0, 3.0])
    expected = [np.mean(x > t) for t in taus]
    np.testing.assert_allclose(performance_profile(x, taus), expected)
    np.testing.assert_allclose(performance_profile(x, taus), [1, 5 / 6, 2 / 6, 1 / 6, 0])
    means = x.mean(axis=0)  # 0.5, 1, 2.5
    np.testing.assert_allclose(performance_profile(x, taus, kind="average"), [np.mean(means > t) for t in taus])


def test_batched_twins_agree_with_point_metrics():
    x = np.random.default_rng(0).normal(size=(5, 26))
    stack = stratified_bootstrap_samples(x, 40, np.random.default_rng(1))
    fns = {"median": aggregate_median, "iqm": aggregate_iqm, "mean": aggregate_mean, "optimality_gap": optimality_gap}
    for name, fn in fns.items():
        np.testing.assert_allclose(BATCHED[name](stack), [fn(s) for s in stack], atol=1e-12)
    # the rank path of interval_estimates keeps the same values as a float sort (summation order
    # may differ in the last bit)
    ref = interval_estimates(x, {"iqm": lambda s: aggregate_iqm(s)}, reps=3000, seed=5)  # loop path
    fast = interval_estimates(x, {"iqm": aggregate_iqm}, reps=3000, seed=5)
    assert fast["iqm"].lo == pytest.approx(ref["iqm"].lo, abs=1e-12)
    assert fast["iqm"].hi == pytest.approx(ref["iqm"].hi, abs=1e-12)


def test_bootstrap_is_bit_for_bit_reproducible():
    x = np.random.default_rng(0).normal(size=(5, 26))
    a = interval_estimates(x, reps=50_000, seed=123)
    b = interval_estimates(x, reps=50_000, seed=np.random.default_rng(123))
    assert a == b  # exact equality of every float
    c = interval_estimates(x, reps=50_000, seed=124)
    assert a["iqm"].lo != c["iqm"].lo
    p1 = probability_of_improvement_ci(x, x + 0.1, seed=9)
    p2 = probability_of_improvement_ci(x, x + 0.1, seed=9)
    assert p1 == p2
    f1 = performance_profile_ci(x, np.linspace(-2, 2, 11), seed=4)
    f2 = performance_profile_ci(x, np.linspace(-2, 2, 11), seed=4)
    for u, v in zip(f1, f2):
        np.testing.assert_array_equal(u, v)


def test_third_party_metric_without_batched_twin_is_bootstrapped():
    x = np.random.default_rng(0).normal(size=(5, 8))

    def worst(s: np.ndarray) -> float:
        return float(np.min(np.mean(s, axis=0)))

    out = interval_estimates(x, {"worst": worst}, reps=500, seed=0)
    assert out["worst"].lo <= out["worst"].value <= out["worst"].hi


def test_bad_matrices_are_value_errors():
    with pytest.raises(ValueError, match="runs, games"):
        interval_estimates(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        interval_estimates(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="same games"):
        probability_of_improvement(np.zeros((2, 3)), np.zeros((2, 4)))


def test_earlier_single_game_helpers_still_work():
    xs = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert iqm_of_array(xs) == pytest.approx(scipy.stats.trim_mean(xs, 0.25))
    lo, hi = bootstrap_iqm_ci(xs, num_samples=500, seed=0)
    assert lo <= iqm_of_array(xs) <= hi
    agg = compute_aggregate_metrics(xs)
    assert agg["n"] == 5 and agg["mean"] == pytest.approx(22.0) and len(agg["iqm_ci"]) == 2
    assert np.isnan(compute_aggregate_metrics([])["mean"])
