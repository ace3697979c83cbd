"""Shipped baselines, their provenance and reduction rules, and the HNS tables."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wmbench_core import normalization
from wmbench_core.baselines import (
    BASELINES,
    UnknownBaselineError,
    baseline_names,
    get_info,
    load_baseline,
    provenance_text,
    reduce_dreamerv3_curves,
)
from wmbench_core.metrics import aggregate_iqm, aggregate_mean, aggregate_median

EXPECTED_RUNS = {"simple": 5, "spr": 100, "drq_eps": 100, "curl": 100, "twm": 5, "iris": 5, "dreamerv3": 1,
                 "dreamerv3_2024": 5, "storm": 5, "diamond": 5, "efficientzero": 1, "muzero": 1}  # fmt: skip


def test_every_required_baseline_ships_with_26_games():
    assert set(EXPECTED_RUNS) == set(baseline_names())
    for name, runs in EXPECTED_RUNS.items():
        b = load_baseline(name)
        assert b.games == list(normalization.ATARI100K_GAMES), name
        assert {len(v) for v in b.raw.values()} == {runs}, name
        assert b.info.citation and b.info.source


def test_provenance_names_every_file_and_citation():
    text = provenance_text()
    for info in BASELINES:
        assert info.file in text and info.label in text


def test_normalizer_tables_equal_the_shipped_files():
    from importlib import resources

    data = resources.files("wmbench_core.baselines").joinpath("data")
    human = json.loads(data.joinpath("HUMAN.json").read_text())
    random = json.loads(data.joinpath("RANDOM.json").read_text())
    assert {g: v[0] for g, v in human.items()} == normalization.HUMAN_SCORES
    assert {g: v[0] for g, v in random.items()} == normalization.RANDOM_SCORES


def test_published_aggregates_recompute_and_storm_is_flagged():
    for name in ("iris", "diamond", "twm", "simple"):
        b = load_baseline(name)
        m = b.hns_matrix()
        got = {"mean": aggregate_mean(m), "median": aggregate_median(m), "iqm": aggregate_iqm(m)}
        for k, v in b.info.reported.items():
            if k in got:
                assert round(got[k], 3) == pytest.approx(v, abs=1e-9), (name, k)
    storm = load_baseline("storm")
    assert abs(aggregate_mean(storm.hns_matrix()) - storm.info.reported["mean"]) > 0.02


def test_curl_uses_the_final_hns_field():
    from importlib import resources

    records = json.loads(resources.files("wmbench_core.baselines").joinpath("data", "CURL_10_evals.json").read_text())
    alien = [r["HNS"] for r in sorted((r for r in records if r["game"] == "Alien"), key=lambda r: r["seed"])]
    np.testing.assert_allclose(load_baseline("curl").hns()["Alien"], alien, atol=1e-12)


def test_dreamerv3_curve_reduction_rule():
    curves = [
        {"task": "atari_pong", "seed": 0, "xs": [100, 389_999, 390_000, 395_000, 400_000, 400_001],
         "ys": [-21, -20, 1.0, 3.0, 5.0, 99]},
        {"task": "atari_up_n_down", "seed": 1, "xs": [100_000, 326_392], "ys": [10.0, 20.0]},  # ends early
    ]  # fmt: skip
    out = reduce_dreamerv3_curves(curves)
    assert out["Pong"] == [3.0]  # mean of episodes ending in [390k, 400k]
    assert out["UpNDown"] == [20.0]  # no episode in the window: the last one
    b = load_baseline("dreamerv3_2024")
    assert b.label == "DreamerV3 (2024 code)" and "390k-400k" in b.info.reduction
    assert -8 < np.mean(b.raw["Pong"]) < -2  # the 2024 code does not reproduce the 2023 Pong score


def test_baseline_names_are_lenient_and_unknown_names_list_valid_ones():
    assert get_info("DrQ(eps)").name == "drq_eps"
    assert get_info("IRIS").name == "iris"
    assert get_info("dreamerv3-2024").name == "dreamerv3_2024"
    with pytest.raises(UnknownBaselineError, match="valid: simple, spr"):
        get_info("rainbow")


def test_canonical_game_names_and_hns():
    assert normalization.canonical_game("ALE/MsPacman-v5") == "MsPacman"
    assert normalization.canonical_game("atari_james_bond") == "Jamesbond"
    assert normalization.canonical_game("UpNDownNoFrameskip-v4") == "UpNDown"
    assert normalization.canonical_game("kung_fu_master") == "KungFuMaster"
    assert normalization.canonical_game("Tetris") is None
    assert normalization.human_normalized_score("Pong", 14.6) == pytest.approx(1.0)
    assert normalization.human_normalized_score("ALE/Pong-v5", -20.7) == pytest.approx(0.0)
    assert normalization.human_normalized_score("catch", 1.0) == pytest.approx(1.0)
    assert normalization.denormalize(
        "Breakout", normalization.human_normalized_score("Breakout", 12.0)
    ) == pytest.approx(12.0)
    with pytest.raises(ValueError, match="no human/random reference scores for game 'Tetris'"):
        normalization.human_normalized_score("Tetris", 1.0)


def test_report_helpers():
    from wmbench_core.compare import hns_or_none, hns_summary, published_game_means

    assert hns_or_none("Pong", 14.6) == pytest.approx(1.0)
    assert hns_or_none("Tetris", 3.0) is None and hns_or_none("Pong", None) is None
    means = published_game_means("ALE/Pong-v5")
    assert set(means) == {"IRIS", "DIAMOND", "DreamerV3"} and means["DreamerV3"] == 18.0
    assert published_game_means("catch") == {"IRIS": None, "DIAMOND": None, "DreamerV3": None}
    records = [
        {"agent": "a", "preset": None, "game": g, "seed": s, "status": "ok", "episode_returns": [float(s), 1.0]}
        for g in ("Pong", "Breakout", "Tetris")
        for s in range(3)
    ]
    summary = hns_summary(records, reps=500)
    group = summary["groups"]["a/default"]
    assert group["games"] == ["Breakout", "Pong"] and summary["skipped_games"] == ["Tetris"]
    assert group["runs_per_game"] == 3 and group["iqm"]["ci"][0] <= group["iqm"]["value"] <= group["iqm"]["ci"][1]


def test_results_table_hooks():
    from wmbench_core.compare import REPORT_HEADER, hns_markdown_lines, hns_summary, report_cells

    cells = report_cells("Pong", 14.6)
    assert len(cells) == len(REPORT_HEADER) and cells[0] == "1.000" and cells[3] == "18.0"
    assert report_cells("Tetris", 3.0) == ["–", "–", "–", "–"]
    records = [
        {"agent": "a", "game": "Pong", "seed": s, "status": "ok", "episode_returns": [float(s)]} for s in range(3)
    ]
    lines = hns_markdown_lines({"aggregate": {"hns": hns_summary(records, reps=200)}})
    assert any(line.startswith("| a/default | 1 | 3 |") for line in lines)
    assert hns_markdown_lines({"aggregate": {}}) == []
