"""``wmbench baselines`` / ``wmbench compare`` through click's CliRunner, and the exporters."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wmbench_core.cli.stats import baselines_command, compare_command
from wmbench_core.envs.protocol import ATARI100K

FAST = ["--reps", "300", "--profile-reps", "50", "--poi-reps", "50"]


def write_results(out: Path, agent: str, runs: dict[str, list[list[float]]], protocol: dict | None = None) -> Path:
    """A result dir in the documented format (runs.jsonl + benchmark_results.json)."""
    from wmbench_core.results import ResultsStore, job_id

    store = ResultsStore(out)
    store.prepare()
    for game, per_seed in runs.items():
        for seed, returns in enumerate(per_seed):
            store.append({
                "job_id": job_id(agent, "default", game, seed), "agent": agent, "preset": "default",
                "game": game, "seed": seed, "protocol": protocol or ATARI100K.to_dict(),
                "episode_returns": returns, "episode_lengths": [100] * len(returns),
                "mean_return": sum(returns) / len(returns), "status": "ok",
            })  # fmt: skip
    return out


def invoke(cmd, args):
    result = CliRunner().invoke(cmd, args)
    return result


@pytest.fixture
def pong_breakout(tmp_path: Path) -> Path:
    return write_results(
        tmp_path / "mine",
        "myagent",
        {"Pong": [[10.0, 12.0], [15.0, 16.0], [-5.0, 0.0]], "Breakout": [[30.0], [50.0], [20.0]]},
    )


def test_baselines_lists_aggregates_with_reported_values():
    res = invoke(baselines_command, [])
    assert res.exit_code == 0, res.output
    assert "1.046" in res.output and "0.641" in res.output and "DreamerV3 (2024 code)" in res.output
    assert "differs" in res.output  # STORM's file does not reproduce its paper
    res = invoke(baselines_command, ["iris", "--json", "--ci", "--reps", "500"])
    rows = json.loads(res.output)
    assert rows[0]["aggregates"]["mean"]["value"] == pytest.approx(1.0459, abs=1e-4)
    lo, hi = rows[0]["aggregates"]["iqm"]["ci"]
    assert lo < 0.501 < hi
    assert "Alien" in rows[0]["per_game_raw_mean"]


def test_bad_input_is_one_line_exit_2(tmp_path: Path, pong_breakout: Path):
    (tmp_path / "empty").mkdir()
    cases = [
        (baselines_command, ["rainbow"], "unknown baseline 'rainbow'"),
        (compare_command, [str(pong_breakout), "--baselines", "iris,rainbow"], "unknown baseline 'rainbow'"),
        (compare_command, [str(tmp_path / "missing")], "no wmbench results"),
        (compare_command, [str(tmp_path / "empty")], "no wmbench results"),
        (compare_command, [], "nothing to compare"),
        (compare_command, [str(pong_breakout), "--format", "md,docx"], "unknown format 'docx'"),
        (compare_command, [str(pong_breakout), "--reps", "0"], "--reps must be >= 1"),
    ]
    for cmd, args, message in cases:
        res = invoke(cmd, [*args, "--out", str(tmp_path / "o")] if cmd is compare_command else args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output, (args, res.output)
        assert "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1, res.output


def test_unknown_game_for_hns_fails_but_raw_scores_work(tmp_path: Path):
    d = write_results(tmp_path / "t", "myagent", {"Tetris": [[1.0], [2.0]]})
    res = invoke(compare_command, [str(d), "--out", str(tmp_path / "o"), *FAST])
    assert res.exit_code == 2 and "no human/random reference scores for game 'Tetris'" in res.output
    res = invoke(compare_command, [str(d), "--scores", "raw", "--format", "md", "--out", str(tmp_path / "o"), *FAST])
    assert res.exit_code == 0, res.output
    assert "raw score" in (tmp_path / "o" / "compare.md").read_text()


def test_failed_only_dir_is_refused(tmp_path: Path):
    from wmbench_core.results import ResultsStore

    store = ResultsStore(tmp_path / "f")
    store.prepare()
    store.append({"job_id": "a|default|Pong|0", "agent": "a", "preset": "default", "game": "Pong", "seed": 0,
                  "status": "failed", "error": "boom"})  # fmt: skip
    res = invoke(compare_command, [str(tmp_path / "f"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "no finished runs" in res.output


def test_compare_dir_against_baselines_writes_every_format(tmp_path: Path, pong_breakout: Path):
    out = tmp_path / "cmp"
    res = invoke(
        compare_command, [str(pong_breakout), "--baselines", "iris,diamond,efficientzero", "--out", str(out), *FAST]
    )
    assert res.exit_code == 0, res.output
    assert "2 game(s)" in res.output
    for name in ("compare.md", "compare.tex", "compare.csv", "compare.json", "compare.html"):
        assert (out / name).stat().st_size > 200, name
    for fig in ("aggregates", "profiles", "poi", "per_game"):
        assert (out / "figures" / f"{fig}.png").read_bytes()[:4] == b"\x89PNG"
        assert b"<svg" in (out / "figures" / f"{fig}.svg").read_bytes()[:400]
    doc = json.loads((out / "compare.json").read_text())
    comp = doc["comparison"]
    assert comp["games"] == ["Breakout", "Pong"] and len(comp["all_games"]) == 26
    mine = comp["entries"][0]
    assert mine["label"] == "myagent" and mine["runs_per_game"] == 3
    assert mine["per_game"]["Pong"]["raw_mean"] == pytest.approx((11 + 15.5 - 2.5) / 3)
    assert mine["per_game"]["Pong"]["score_mean"] == pytest.approx(((11 + 15.5 - 2.5) / 3 + 20.7) / 35.3)
    assert {"mean", "median", "iqm", "optimality_gap"} <= set(mine["aggregates"])
    assert [p["y"] for p in comp["poi"]] == ["IRIS", "DIAMOND", "EfficientZero"]
    assert doc["runs"] and "aggregate" in doc  # still a results document for exporter plugins
    md = (out / "compare.md").read_text()
    assert "| myagent |" in md and "IRIS" in md and "Per-game mean human-normalised score" in md
    tex = (out / "compare.tex").read_text()
    assert "\\toprule" in tex and "\\textbf{" in tex and "\\scriptsize [" in tex
    html = (out / "compare.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "<table>" in html
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert {r["section"] for r in rows} == {"aggregate", "per_game", "poi"}
    assert any(r["entry"] == "IRIS" and r["metric"] == "hns_mean" and r["game"] == "Pong" for r in rows)


def test_same_seed_same_numbers(tmp_path: Path, pong_breakout: Path):
    from wmbench_core.compare import build_comparison

    a = build_comparison([pong_breakout], ["iris"], reps=2000, profile_reps=100, poi_reps=100, seed=3)["comparison"]
    b = build_comparison([pong_breakout], ["iris"], reps=2000, profile_reps=100, poi_reps=100, seed=3)["comparison"]
    assert a["entries"] == b["entries"] and a["poi"] == b["poi"] and a["profiles"] == b["profiles"]


def test_mixed_protocols_are_refused_unless_allowed(tmp_path: Path):
    d1 = write_results(tmp_path / "a", "myagent", {"Pong": [[1.0], [2.0]]})
    sticky = ATARI100K.replace(repeat_action_probability=0.25).to_dict()
    d2 = write_results(tmp_path / "b", "myagent", {"Breakout": [[3.0], [4.0]]}, protocol=sticky)
    res = invoke(compare_command, [str(d1), str(d2), "--out", str(tmp_path / "o"), *FAST])
    assert res.exit_code == 2 and "different environment protocols" in res.output
    assert "--allow-mixed-protocols" in res.output
    res = invoke(compare_command, [str(d1), str(d2), "--allow-mixed-protocols", "--format", "md,json", "--out",
                                   str(tmp_path / "o"), *FAST])  # fmt: skip
    assert res.exit_code == 0, res.output
    md = (tmp_path / "o" / "compare.md").read_text()
    assert "myagent†" in md and "atari100k+custom" in md
    comp = json.loads((tmp_path / "o" / "compare.json").read_text())["comparison"]
    assert comp["entries"][0]["mixed_protocols"] and comp["entries"][0]["aggregates"]["iqm"]["mixed_protocols"]


def test_same_agent_in_two_dirs_is_pooled(tmp_path: Path):
    from wmbench_core.compare import build_comparison

    d1 = write_results(tmp_path / "a", "myagent", {"Pong": [[1.0]]})
    d2 = write_results(tmp_path / "b", "myagent", {"Breakout": [[3.0]]})
    comp = build_comparison([d1, d2], reps=100, profile_reps=10, poi_reps=10)["comparison"]
    assert [e["label"] for e in comp["entries"]] == ["myagent"]
    assert comp["entries"][0]["games"] == ["Breakout", "Pong"]


def test_third_party_metric_and_exporter_appear(example_plugin_on_path, tmp_path: Path, pong_breakout: Path):
    out = tmp_path / "o"
    res = invoke(compare_command, [str(pong_breakout), "--baselines", "twm", "--format", "md,txt,json", "--out",
                                   str(out), *FAST])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "worst_game" in (out / "compare.md").read_text()
    comp = json.loads((out / "compare.json").read_text())["comparison"]
    assert "worst_game" in comp["entries"][1]["aggregates"]
    assert (out / "compare.txt").read_text().startswith("myagent|default|")


def test_compare_a_dir_written_by_the_runner(tmp_path: Path):
    from wmbench_core.cli import cli

    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "--agent", "random", "--game", "catch", "--seeds", "2", "--episodes", "4",
                                   "--out-dir", str(out), "--format", "json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = invoke(compare_command, [str(out), "--out", str(tmp_path / "o"), "--format", "md,json", *FAST])
    assert res.exit_code == 0, res.output
    comp = json.loads((tmp_path / "o" / "compare.json").read_text())["comparison"]
    entry = comp["entries"][0]
    assert entry["label"] == "random" and entry["runs_per_game"] == 2 and comp["games"] == ["catch"]
    assert entry["protocols"] == ["atari100k v1"]
    assert -0.5 < entry["aggregates"]["mean"]["value"] < 0.5  # random policy: HNS near 0 on catch


def test_html_and_figure_exporters_take_a_results_document(tmp_path: Path, pong_breakout: Path):
    from wmbench_core.exporters.figures import write_png, write_svg
    from wmbench_core.exporters.html import write_html
    from wmbench_core.results import load_document

    doc = load_document(pong_breakout)
    write_html(doc, tmp_path / "r.html")
    write_png(doc, tmp_path / "r.png")
    write_svg(doc, tmp_path / "r.svg")
    assert "myagent" in (tmp_path / "r.html").read_text()
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "r.svg").read_bytes()[:400]


def test_format_help_lists_exporter_plugins(example_plugin_on_path):
    res = invoke(compare_command, ["--help"])
    assert res.exit_code == 0
    assert "md, tex, csv, json, html, png, svg, txt" in " ".join(res.output.split())


def test_compare_shipped_baselines_alone(tmp_path: Path):
    out = tmp_path / "b"
    res = invoke(
        compare_command, ["--baselines", "IRIS,diamond,DrQ(eps)", "--format", "json,md", "--out", str(out), *FAST]
    )
    assert res.exit_code == 0, res.output
    comp = json.loads((out / "compare.json").read_text())["comparison"]
    assert [e["label"] for e in comp["entries"]] == ["IRIS", "DIAMOND", "DrQ(eps)"]
    assert len(comp["games"]) == 26 and not comp["notes"]
    iris = comp["entries"][0]["aggregates"]
    assert round(iris["mean"]["value"], 3) == 1.046 and round(iris["iqm"]["value"], 3) == 0.501
    assert [(p["x"], p["y"]) for p in comp["poi"]] == [("IRIS", "DIAMOND"), ("IRIS", "DrQ(eps)")]
    assert comp["poi"][0]["value"] == pytest.approx(1 - 0.6661538461538462)  # rliable: P(DIAMOND > IRIS)
    md = (out / "compare.md").read_text()
    assert "Reported vs recomputed" in md and "| IRIS | iqm | 0.501 | 0.501 | ok |" in md
