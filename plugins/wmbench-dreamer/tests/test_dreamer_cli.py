"""``wmbench run --agent dreamerv3 ...`` through the real CLI (entry points, --set, results)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wmbench_core.testing import one_thread_env


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wmbench_core", *args], capture_output=True, text=True,
        stdin=subprocess.DEVNULL, env=one_thread_env(),
    )  # fmt: skip


def test_cli_bad_set_key_is_one_line(tmp_path):
    res = _run([
        "run", "--agent", "dreamerv3", "--game", "catch", "--preset", "tiny", "--train-steps", "8",
        "--episodes", "1", "--set", "horizn=3", "--out-dir", str(tmp_path),
    ])  # fmt: skip
    text = res.stdout + res.stderr
    assert res.returncode == 2 and "horizn" in text and "Traceback" not in text


@pytest.mark.slow(minutes=0.7)
def test_cli_dreamerv3_pong_smoke(tmp_path):
    res = _run([
        "run", "--agent", "dreamerv3", "--game", "Pong", "--train-steps", "300", "--episodes", "1",
        # a small model: an evaluation episode of Pong is ~800 agent steps (the full-size
        # model end to end is test_atari100k_v3_end_to_end_tiny_budget)
        "--set", "prefill=290", "--set", "seq_len=8", "--set", "batch_size=4",
        "--set", "deter=64", "--set", "hidden=64", "--set", "cnn_depth=4", "--set", "head_units=64",
        "--set", "stoch=4", "--set", "classes=4",
        "--out-dir", str(tmp_path), "--format", "json",
    ])  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads((tmp_path / "benchmark_results.json").read_text())
    text = json.dumps(doc)
    assert '"dreamerv3"' in text and '"seq_len": 8' in text and '"prefill": 290' in text
    assert (tmp_path / "jobs").is_dir() and list(tmp_path.glob("jobs/*/losses.csv"))
