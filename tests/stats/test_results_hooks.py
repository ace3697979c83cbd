"""HNS and published-baseline columns in the results document and the core's exporters."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner


def test_run_outputs_carry_hns_and_baseline_columns(tmp_path: Path):
    from wmbench_core.cli import cli

    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["run", "--agent", "random", "--game", "catch", "--seeds", "2", "--episodes", "3",
                                   "--out-dir", str(out), "--format", "json,csv,md,tex,html,png"])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "benchmark_results.json").read_text())
    group = doc["aggregate"]["hns"]["groups"]["random/default"]
    assert group["games"] == ["catch"] and group["runs_per_game"] == 2
    assert group["iqm"]["ci"][0] <= group["iqm"]["value"] <= group["iqm"]["ci"][1]
    md = (out / "benchmark_results.md").read_text()
    assert "| HNS | IRIS | DIAMOND | DreamerV3 |" in md and "## Human-normalised aggregates" in md
    rows = list(csv.DictReader((out / "benchmark_results.csv").open()))
    ret = float(rows[0]["return"])
    assert abs(float(rows[0]["hns"]) - (ret + 0.7475) / 1.7475) < 1e-9
    assert "HNS" in (out / "benchmark_results.tex").read_text()
    assert "data:image/png;base64," in (out / "benchmark_results.html").read_text()
    assert (out / "benchmark_results.png").read_bytes()[:4] == b"\x89PNG"


def test_pong_row_shows_published_means(tmp_path: Path):
    from wmbench_core.exporters.tables import write_markdown
    from wmbench_core.results import build_document

    records = [
        {"job_id": f"a|default|Pong|{s}", "agent": "a", "preset": "default", "game": "Pong", "seed": s,
         "status": "ok", "episode_returns": [14.6], "protocol": {"name": "atari100k"}}
        for s in range(2)
    ]  # fmt: skip
    write_markdown(build_document(records), tmp_path / "r.md")
    row = next(line for line in (tmp_path / "r.md").read_text().splitlines() if line.startswith("| a | default | Pong"))
    assert "| 1.000 | 14.6 | 20.4 | 18.0 |" in row  # HNS 1, IRIS, DIAMOND, DreamerV3 Pong means
