"""Killing a multi-seed run midway loses no finished job; --resume finishes the rest."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time


def test_kill_midway_then_resume(tmp_path):
    out = tmp_path / "bench"
    cmd = [sys.executable, "-m", "wmbench_core", "run", "--agent", "random", "--game", "Pong", "--seeds", "0-5",
           "--episodes", "2", "--out-dir", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = out / "runs.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if runs.is_file() and len(runs.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = [json.loads(line)["job_id"] for line in runs.read_text().splitlines() if line.strip()]
    assert 2 <= len(finished) < 6, "kill landed too late to test anything"
    p = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ids = [json.loads(line)["job_id"] for line in runs.read_text().splitlines() if line.strip()]
    assert ids[: len(finished)] == finished  # nothing lost
    assert len(ids) == len(set(ids)) == 6  # nothing repeated, all done
    doc = json.loads((out / "benchmark_results.json").read_text())
    assert len(doc["aggregate"]["per_seed_means"]) == 6
