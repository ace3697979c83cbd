"""Learning curves: binning, averaging over runs, the published DreamerV3 curves, the figure."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from wmbench_core.baselines import training_curves
from wmbench_core.compare import build_comparison, write_comparison
from wmbench_core.curves import binned_means, latest_returns, learning_curves, sample_efficiency, summarise_runs
from wmbench_core.envs.protocol import ATARI100K
from wmbench_core.metrics import aggregate_iqm
from wmbench_core.results import ResultsStore, job_id
from wmbench_core.runner import BenchmarkRunner
from wmbench_core.testing import FakeAgent

FAST = {"reps": 200, "profile_reps": 20, "poi_reps": 20}


def test_binned_means_by_hand():
    edges = np.array([0.0, 10.0, 20.0, 30.0])
    out = binned_means([2, 8, 25, 30, 31], [1.0, 3.0, 5.0, 7.0, 100.0], edges)
    # [0,10): 1 and 3; [10,20): nothing; [20,30]: 5 and 7 (the last bin is closed); 31 is outside
    np.testing.assert_allclose(out, [2.0, np.nan, 6.0])


def test_summary_over_runs_by_hand():
    edges = np.array([0.0, 10.0, 20.0])
    s = summarise_runs([([5, 15], [1.0, 4.0]), ([5], [3.0])], edges)
    assert s == {"runs": 2, "mean": [2.0, 4.0], "lo": [1.0, 4.0], "hi": [3.0, 4.0]}
    empty = summarise_runs([([5], [1.0])], edges)
    assert empty["mean"] == [1.0, None] and empty["lo"] == [1.0, None]


def test_published_curves_are_cut_to_the_runs_step_range():
    ours = {"mine": {"Pong": [([1000, 2000], [-21.0, -20.0])]}}
    published = {"DreamerV3 (2024 code)": training_curves("dreamerv3_2024")}
    out = learning_curves(ours, published, bins=2)
    assert list(out) == ["Pong"]  # only the games we ran
    assert out["Pong"]["env_step"] == [500.0, 1500.0]
    d = out["Pong"]["entries"]["DreamerV3 (2024 code)"]
    assert d["runs"] == 5
    # steps = frames / 4: Pong episodes of the first 8,000 frames (2,000 steps) only, all losses
    assert all(v is None or -21 <= v <= -15 for v in d["mean"])
    assert out["Pong"]["entries"]["mine"]["mean"] == [None, -20.5]


def test_training_curves_only_for_baselines_that_released_them():
    assert training_curves("iris") is None
    curves = training_curves("dreamerv3_2024")
    assert len(curves) == 26 and all(len(runs) == 5 for runs in curves.values())
    steps, returns = curves["Pong"][0]
    assert max(steps) <= 100_000 + 1000 and len(steps) == len(returns)  # 400k frames = 100k steps


def test_comparison_draws_the_curves_the_runs_recorded(tmp_path):
    runner = BenchmarkRunner(adapter_cls=FakeAgent, out_dir=tmp_path / "fake", train_steps=140)
    runner.run("catch", [0, 1], 2)
    doc = build_comparison([tmp_path / "fake"], scores="raw", **FAST)
    curves = doc["comparison"]["learning_curves"]
    fake = curves["catch"]["entries"]["fake"]
    assert fake["runs"] == 2 and len(curves["catch"]["env_step"]) == 20
    means = [v for v in fake["mean"] if v is not None]
    assert means and all(-1.0 <= v <= 1.0 for v in means)
    assert all(lo <= m <= hi for lo, m, hi in zip(fake["lo"], fake["mean"], fake["hi"]) if m is not None)
    paths = write_comparison(doc, tmp_path / "cmp", formats=["json", "png", "html", "csv", "md", "tex"])
    names = {p.name for p in paths}
    assert {"learning_curves.png", "compare_curves.csv", "sample_efficiency.png", "compare_efficiency.csv"} <= names
    eff = doc["comparison"]["sample_efficiency"]
    assert eff["games"] == ["catch"] and eff["entries"]["fake"]["runs"] == 2
    rows = list(csv.DictReader((tmp_path / "cmp" / "compare_efficiency.csv").open()))
    assert [float(r["env_step"]) for r in rows] == eff["env_step"]
    assert [None if r["iqm"] == "" else float(r["iqm"]) for r in rows] == eff["entries"]["fake"]["iqm"]
    section = (tmp_path / "cmp" / "compare.md").read_text().split("## Sample efficiency")[1].split("##")[0]
    assert section.count(" steps |") == 4 and "| fake | " in section
    tex = (tmp_path / "cmp" / "compare.tex").read_text().split("tab:wmbench-per-game")[1]
    assert "tab:wmbench-sample-efficiency" in tex and tex.count(" steps") == 4 and "\\scriptsize [" in tex
    assert "alt='sample_efficiency'" in (tmp_path / "cmp" / "compare.html").read_text()
    rows = list(csv.DictReader((tmp_path / "cmp" / "compare_curves.csv").open()))
    assert len(rows) == 20 and {r["entry"] for r in rows} == {"fake"} and {r["runs"] for r in rows} == {"2"}
    assert [float(r["env_step"]) for r in rows] == curves["catch"]["env_step"]
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["comparison"]["learning_curves"]
    assert "alt='learning_curves'" in (tmp_path / "cmp" / "compare.html").read_text()


def test_latest_returns_hold_the_last_score_by_hand():
    edges = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    out = latest_returns([12, 14, 35], [1.0, 3.0, 5.0], edges)
    np.testing.assert_allclose(out, [np.nan, 2.0, 2.0, 5.0])  # nothing before 10; 20-30 holds 2


def test_sample_efficiency_is_the_iqm_over_runs_and_games_per_bin():
    """Per bin, the IQM of the (runs x games) matrix of normalised latest returns, with a CI
    around it; entries without every game are left out, bins a run has not reached are None."""
    rng = np.random.default_rng(0)
    games = ["A", "B", "C"]
    steps = np.arange(10.0, 101.0, 10.0)  # one episode ending every 10 steps, to 100
    runs = {g: [(steps, rng.normal(size=10) + 10 * s) for s in range(4)] for g in games}
    results = {"full": runs, "partial": {"A": runs["A"]}}
    scale = {"A": 1.0, "B": 2.0, "C": 0.5}
    out = sample_efficiency(results, games, lambda g, r: r * scale[g], bins=5, reps=300, seed=1)
    assert list(out["entries"]) == ["full"] and out["games"] == games
    assert out["env_step"] == [10.0, 30.0, 50.0, 70.0, 90.0]
    e = out["entries"]["full"]
    assert e["runs"] == 4
    edges = np.linspace(0, 100, 6)
    for b in range(5):
        matrix = np.array([[latest_returns(*runs[g][i], edges)[b] * scale[g] for g in games] for i in range(4)])
        assert e["iqm"][b] == pytest.approx(aggregate_iqm(matrix))
        assert e["lo"][b] <= e["iqm"][b] <= e["hi"][b] and e["lo"][b] < e["hi"][b]
    late = {"late": {g: [(np.array([60.0, 100.0]), np.array([1.0, 2.0]))] for g in games}}
    assert sample_efficiency(late, games, lambda g, r: r, bins=5, reps=50)["entries"]["late"]["iqm"] == [
        None, None, None, 1.0, 2.0]  # fmt: skip
    assert sample_efficiency({"partial": {"A": runs["A"]}}, games, lambda g, r: r) == {}


def test_no_curves_no_figure(tmp_path):
    store = ResultsStore(tmp_path / "old")
    store.prepare()
    for seed in range(2):  # records made before wmbench logged training episodes
        store.append({"job_id": job_id("a", "default", "Pong", seed), "agent": "a", "preset": "default",
                      "game": "Pong", "seed": seed, "protocol": ATARI100K.to_dict(), "status": "ok",
                      "episode_returns": [-20.0 + seed], "episode_lengths": [900]})  # fmt: skip
    doc = build_comparison([tmp_path / "old"], baselines=["dreamerv3_2024"], **FAST)
    assert doc["comparison"]["learning_curves"] == {} and doc["comparison"]["sample_efficiency"] == {}
    paths = write_comparison(doc, tmp_path / "cmp", formats=["png", "csv", "md", "tex"])
    assert not {"learning_curves.png", "sample_efficiency.png", "compare_efficiency.csv"} & {p.name for p in paths}
    assert "Sample efficiency" not in (tmp_path / "cmp" / "compare.md").read_text()
    assert "sample-efficiency" not in (tmp_path / "cmp" / "compare.tex").read_text()


@pytest.fixture(autouse=True)
def _agg_backend():
    pytest.importorskip("matplotlib")


def test_start_and_end_returns_by_hand():
    from wmbench_core.curves import start_and_end_returns

    # 100 steps: the first 10% holds the episodes ending at 5 and 10, the last 10% those at 90-100
    curve = ([5, 10, 50, 90, 100], [-1.0, -3.0, 0.0, 4.0, 6.0])
    assert start_and_end_returns(curve) == (-2.0, 5.0)
    assert start_and_end_returns(([], [])) == (None, None)


def test_training_section_of_the_run_report(tmp_path):
    doc = BenchmarkRunner(adapter_cls=FakeAgent, out_dir=tmp_path, train_steps=700,
                          config={"epsilon": 0.0}).run("catch", [0, 1], 2)  # fmt: skip
    text = (tmp_path / "benchmark_results.md").read_text().split("## Training")[1]
    row = next(line for line in text.splitlines() if line.startswith("| fake | default | catch | 2 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4:6] == ["200", "700"]  # 2 x 100 episodes of 7 steps; 700 steps each
    curves = [r["train_episodes"] for r in doc["runs"]]
    first = np.mean([np.mean([x for x, s in zip(c["return"], c["env_step"]) if s <= 70]) for c in curves])
    last = np.mean([np.mean([x for x, s in zip(c["return"], c["env_step"]) if s >= 630]) for c in curves])
    assert cells[6:8] == [f"{first:.2f}", f"{last:.2f}"]


def test_suite_report_puts_dreamerv3_beside_the_released_curves(tmp_path):
    from wmbench_core.suite import write_comparison as suite_comparison

    store = ResultsStore(tmp_path)
    store.prepare()
    for seed in range(2):
        store.append({"job_id": job_id("dreamerv3", "atari100k", "Pong", seed), "agent": "dreamerv3",
                      "preset": "atari100k", "game": "Pong", "seed": seed, "protocol": ATARI100K.to_dict(),
                      "status": "ok", "episode_returns": [-20.0], "episode_lengths": [900],
                      "train_episodes": {"env_step": [900, 1800], "return": [-21.0, -20.0],
                                         "length": [900, 900]}})  # fmt: skip
    written = suite_comparison(tmp_path, formats=["json"])
    assert [p.endswith("compare.json") for p in written] == [True], written
    comp = json.loads((tmp_path / "compare.json").read_text())["comparison"]
    assert {e["agent"] for e in comp["entries"]} == {"dreamerv3", "dreamerv3_2024"}
    assert set(comp["learning_curves"]["Pong"]["entries"]) == {"dreamerv3", "DreamerV3 (2024 code)"}
