"""The CLI as users type it: outputs, and one clear line + exit 2 for every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from wmbench_core.cli import cli


def wmbench(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wmbench_core", *args], capture_output=True, text=True,
                          cwd=cwd, stdin=subprocess.DEVNULL)  # fmt: skip


def test_run_random_pong_writes_four_files_and_resume_does_no_work(tmp_path):
    out = tmp_path / "bench"
    args = ("run", "--agent", "random", "--game", "Pong", "--seeds", "0,1", "--episodes", "2")
    p = wmbench(*args, "--out-dir", str(out))
    assert p.returncode == 0, p.stderr
    for ext in ("json", "csv", "md", "tex"):
        assert (out / f"benchmark_results.{ext}").is_file()
    doc = json.loads((out / "benchmark_results.json").read_text())
    assert len(doc["aggregate"]["per_seed_means"]) == 2
    before = (out / "runs.jsonl").read_text()
    p = wmbench("run", "--agent", "random", "--game", "Pong", "--seeds", "0,1", "--episodes", "2", "--out-dir",
                str(out), "--resume")  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "2 of 2 jobs already finished" in p.stderr
    assert (out / "runs.jsonl").read_text() == before


def test_csv_is_tidy_one_row_per_episode(tmp_path):
    out = tmp_path / "o"
    r = CliRunner().invoke(cli, ["run", "--agent", "random", "--game", "catch", "--seeds", "2", "--episodes", "3",
                                 "--out-dir", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    import csv

    rows = list(csv.DictReader(open(out / "benchmark_results.csv")))
    assert len(rows) == 6 and {row["seed"] for row in rows} == {"0", "1"}
    assert all(float(row["return"]) in (-1.0, 1.0) for row in rows)
    tex = (out / "benchmark_results.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex


def test_python_m_is_the_same_cli():
    p = wmbench("--help")
    assert p.returncode == 0 and "list-agents" in p.stdout and "run" in p.stdout


def test_describe_random_json():
    r = CliRunner().invoke(cli, ["describe", "--agent", "random", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["parameters"] == {"total": 0}


def test_report_rerenders_from_runs_jsonl(tmp_path):
    out = tmp_path / "o"
    CliRunner().invoke(cli, ["run", "--agent", "random", "--game", "catch", "--episodes", "2", "--out-dir", str(out)])
    (out / "benchmark_results.md").unlink()
    r = CliRunner().invoke(cli, ["report", str(out), "--format", "md"])
    assert r.exit_code == 0 and (out / "benchmark_results.md").is_file()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


BAD_INPUTS = [
    (["--agent", "nope"], "unknown agent 'nope'; valid: "),
    (["--agent", "random", "--game", "Pongg"], "did you mean Pong"),
    (["--agent", "random", "--preset", "huge"], "unknown preset 'huge' for agent random; valid: default"),
    (["--agent", "random", "--format", "json,docx"], "unknown format 'docx'; valid: "),
    (["--agent", "random", "--seeds", "0-"], "--seeds '0-' is malformed"),
    (["--agent", "random", "--seeds", "3-1"], "is empty"),
    (["--agent", "random", "--seeds", "0"], "must be >= 1"),
    (["--agent", "random", "--set", "novalue"], "--set 'novalue' is malformed; expected key=value"),
    (["--agent", "random", "--set", "lr=1"], "unknown config key"),
    (["--agent", "random", "--episodes", "0"], "--episodes must be a positive integer"),
    (["--agent", "random", "--episodes", "-3"], "--episodes must be a positive integer"),
    (["--agent", "random", "--checkpoint", "missing.ckpt"], "does not exist"),
    ([], "give --agent NAME"),
]


@pytest.mark.parametrize("args,message", BAD_INPUTS)
def test_bad_input_one_line_exit_2(tmp_path, args, message):
    full = ["run", "--game", "catch", "--episodes", "1", "--out-dir", str(tmp_path / "o"), *args]
    if "--game" in args:
        full = ["run", "--episodes", "1", "--out-dir", str(tmp_path / "o"), *args]
    if "--episodes" in args:
        full = ["run", "--game", "catch", "--out-dir", str(tmp_path / "o"), *args]
    p = wmbench(*full, cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert message in lines[0], lines[0]


def test_truncated_and_malicious_checkpoints_are_refused(tmp_path):
    good = tmp_path / "good.ckpt"
    from wmbench_core.agents.random_agent import RandomAgent
    from wmbench_core.envs import make_env_spec

    RandomAgent(env=make_env_spec("catch")).save_checkpoint(good)
    trunc = tmp_path / "trunc.ckpt"
    trunc.write_bytes(good.read_bytes()[:40])
    evil = tmp_path / "evil.ckpt"
    torch.save({"format": "wmbench-checkpoint", "agent": "random", "x": _Evil()}, evil)
    for path, message in ((trunc, "truncated or corrupt"), (evil, "refused to unpickle")):
        p = wmbench("run", "--agent", "random", "--game", "catch", "--episodes", "1", "--checkpoint", str(path),
                    "--out-dir", str(tmp_path / "o"), cwd=tmp_path)  # fmt: skip
        assert p.returncode == 2 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not (tmp_path / "PWNED").exists()
    p = wmbench("run", "--agent", "random", "--game", "catch", "--episodes", "2", "--checkpoint", str(good),
                "--out-dir", str(tmp_path / "o"))  # fmt: skip
    assert p.returncode == 0, p.stderr


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = wmbench("run", "--agent", "random", "--game", "catch", "--out-dir", str(blocker / "sub"))
    assert p.returncode == 2 and "cannot write to out dir" in p.stderr and "Traceback" not in p.stderr


def test_bad_input_loses_nothing_already_written(tmp_path):
    out = tmp_path / "o"
    CliRunner().invoke(cli, ["run", "--agent", "random", "--game", "catch", "--episodes", "2", "--out-dir", str(out)])
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    p = wmbench("run", "--agent", "random", "--game", "catch", "--seeds", "x", "--out-dir", str(out))
    assert p.returncode == 2
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_failed_job_exits_nonzero_with_summary(tmp_path):
    p = wmbench("run", "--agent", "random", "--game", "catch", "--train-steps", "-1", "--out-dir", str(tmp_path))
    assert p.returncode == 2 and "--train-steps must be >= 0" in p.stderr


def test_click_usage_errors_are_one_line_through_the_console_script():
    """click's own errors (a malformed or missing option, an unknown command) get the project's one
    line and exit code 2, not click's usage block; a bare ``wmbench`` prints its help."""
    for args, expect in ((["run", "--agent", "random", "--game", "catch", "--device", "gpu"], "'--device'"),
                         (["run", "--agent", "random"], "Missing option '--game'"),
                         (["nosuch"], "No such command")):
        proc = subprocess.run([sys.executable, "-m", "wmbench_core", *args], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("wmbench: error:") and expect in lines[0], proc.stderr
    proc = subprocess.run([sys.executable, "-m", "wmbench_core"], capture_output=True, text=True)
    assert proc.returncode == 0 and "Commands:" in proc.stdout


def test_empty_out_dir_and_one_checkpoint_as_several_seeds_are_refused(tmp_path):
    p = wmbench("run", "--agent", "random", "--game", "catch", "--out-dir", "")
    assert p.returncode == 2 and "--out-dir is empty" in p.stderr
    p = wmbench("run", "--agent", "random", "--game", "catch", "--checkpoint", str(tmp_path / "x.pt"),
                "--seeds", "3", "--out-dir", str(tmp_path / "out"))  # fmt: skip
    assert p.returncode == 2 and "give one seed" in p.stderr and not (tmp_path / "out").exists()


def test_negative_bootstrap_seed_names_the_option():
    for command in (["baselines", "--ci"], ["compare", "nowhere"]):
        proc = subprocess.run([sys.executable, "-m", "wmbench_core", *command, "--seed", "-1"],
                              capture_output=True, text=True)  # fmt: skip
        assert proc.returncode == 2 and "'--seed'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("install", ["from wmbench_core.cli.errors import one_line_warnings; one_line_warnings()",
                                     "from wmbench_core.executors import _init_process_worker; "
                                     "_init_process_worker(None, None)"])
def test_plugin_warnings_print_as_one_line(install):
    """A plugin's ``warnings.warn`` (IRIS without VGG16 weights) prints one ``wmbench: warning:`` line,
    in the CLI's process and in suite workers, not Python's file:line + source line."""
    code = f"import warnings; {install}; warnings.warn('perceptual loss is off', stacklevel=1)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "wmbench: warning: perceptual loss is off\n", proc.stderr


def test_atari_commands_print_no_ale_banner():
    """ALE's "A.L.E: Arcade Learning Environment ... [Powered by Stella]" banner is off (its version
    is in every result's versions); a command that builds Atari envs leaves stderr empty."""
    code = ("from wmbench_core.envs import make_env_spec; from wmbench_core.envs.atari import make_atari_vector_env; "
            "spec = make_env_spec('Pong'); spec.make().reset(seed=0); "
            "make_atari_vector_env('Pong', spec.protocol, 2).reset(seed=0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
