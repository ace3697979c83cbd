"""Run dirs, results documents, loss curves and checkpoints that are damaged, odd or reused:
nothing already written is lost, a bad record costs one warning line, bad input one error line."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from wmbench_core import results
from wmbench_core.cli import cli
from wmbench_core.results import DOCUMENT_FILE, RUNS_FILE, ResultsStore, atomic_write_text, read_records

FAST = ["--reps", "100", "--profile-reps", "10", "--poi-reps", "10", "--scores", "raw", "--format", "md,json"]


def invoke(*args: str):
    results._warned.clear()  # each command is a fresh process as far as warnings go
    return CliRunner().invoke(cli, list(args))


def runs_in_document(out: Path) -> int:
    return len(json.loads((out / DOCUMENT_FILE).read_text())["runs"])


def warnings_in(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("wmbench: warning:")]


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A run dir of 3 random-agent jobs on catch (runs.jsonl + benchmark_results.json)."""
    out = tmp_path / "base"
    res = invoke("run", "--agent", "random", "--game", "catch", "--seeds", "3", "--episodes", "2", "--device", "cpu",
                 "--format", "json", "--out-dir", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(read_records(out)) == 3 and runs_in_document(out) == 3
    return out


def copy_of(base: Path, name: str) -> Path:
    return Path(shutil.copytree(base, base.parent / name))


# -- finding 3: rebuilding the document never drops the runs it holds -------------------------
def test_status_counts_the_runs_only_the_document_holds(base: Path):
    (base / RUNS_FILE).unlink()
    res = invoke("status", str(base), "--json")
    assert res.exit_code == 0, res.output
    status = json.loads(res.output[res.output.index("{"):])
    assert status["ok"] == 3 and status["remaining"] == 0
    assert len(warnings_in(res.output)) == 1


def test_document_only_dir_keeps_its_runs_when_a_run_is_added(base: Path):
    out = base.parent / "doc_only"
    out.mkdir()
    shutil.copy(base / DOCUMENT_FILE, out / DOCUMENT_FILE)
    res = invoke("run", "--agent", "random", "--game", "catch", "--seeds", "3-4", "--episodes", "2", "--device", "cpu",
                 "--format", "json", "--out-dir", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert runs_in_document(out) == 5
    assert len(read_records(out)) == 5  # the document's 3 runs are back in runs.jsonl
    assert len([w for w in warnings_in(res.output) if "3 run(s) missing from runs.jsonl" in w]) == 1


def test_report_on_a_torn_runs_file_keeps_the_document_whole(base: Path):
    out = copy_of(base, "torn")
    text = (out / RUNS_FILE).read_text()
    (out / RUNS_FILE).write_text(text[:-200])  # the last record cut short
    res = invoke("report", str(out))
    assert res.exit_code == 0, res.output
    assert runs_in_document(out) == 3
    assert {r["job_id"] for r in read_records(out)} == {f"random|default|catch|{s}" for s in range(3)}
    (line,) = warnings_in(res.output)
    assert "1 run(s) missing from runs.jsonl (random|default|catch|2)" in line


def test_unreadable_document_is_kept_aside_not_overwritten(base: Path):
    out = copy_of(base, "bad_doc")
    (out / DOCUMENT_FILE).write_bytes(b"\x00\xa6 not json")
    res = invoke("report", str(out))
    assert res.exit_code == 0, res.output
    assert (out / (DOCUMENT_FILE + ".bak")).read_bytes() == b"\x00\xa6 not json"
    assert runs_in_document(out) == 3
    assert any("kept it as benchmark_results.json.bak" in w for w in warnings_in(res.output))


def test_a_newer_record_in_runs_jsonl_wins_over_the_documents_older_one():
    from wmbench_core.results import lost_records

    old = {"job_id": "a|d|catch|0", "agent": "a", "game": "catch", "seed": 0, "status": "failed",
           "finished": "2026-01-01T10:00:00+0000"}  # fmt: skip
    new = {**old, "status": "ok", "episode_returns": [1.0], "finished": "2026-01-01T11:00:00+0000"}
    assert lost_records([new], [old]) == []  # superseded, not lost
    assert lost_records([old], [new]) == [new]  # runs.jsonl lost the newer one
    assert lost_records([], [old]) == [old]


# -- findings 6 and 19: bad lines of runs.jsonl are skipped with one warning naming file and line
BAD_LINES = [
    "[1, 2]",
    "42",
    '{"status": "ok"}',
    '{"job_id": "x|d|catch|9", "agent": "x", "game": "catch", "seed": "zero", "status": "ok", '
    '"episode_returns": ["a"]}',
    '{"job_id": "x|d|catch|9", "agent": "x", "game": "catch", "seed": 9, "status": "ok", "wall_time": "slow", '
    '"episode_returns": [1.0]}',
    "garbage {",
]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_bad_record_lines_are_skipped_with_one_warning(base: Path, tmp_path: Path, bad: str):
    out = copy_of(base, "bad")
    lines = (out / RUNS_FILE).read_text().splitlines()
    (out / RUNS_FILE).write_text("\n".join([lines[0], bad, *lines[1:]]) + "\n")  # line 2 of 4
    assert len(read_records(out)) == 3
    for args in (["report", str(out)], ["status", str(out)], ["compare", str(out), "--out", str(tmp_path / "c"), *FAST],
                 ["run", "--agent", "random", "--game", "catch", "--seeds", "3", "--episodes", "2", "--device", "cpu",
                  "--format", "json", "--out-dir", str(out), "--resume"]):  # fmt: skip
        res = invoke(*args)
        assert res.exit_code == 0, (args, res.output)
        assert "Traceback" not in res.output
        (line,) = warnings_in(res.output)
        assert f"{out / RUNS_FILE}: skipped 1 bad line(s): line 2 (" in line, line
    assert runs_in_document(out) == 3


def test_random_bytes_in_runs_jsonl_name_the_file(base: Path):
    out = copy_of(base, "bytes")
    with open(out / RUNS_FILE, "ab") as fh:
        fh.write(bytes(range(128, 256)) + b"\n" + b"\xa6\xff" * 50 + b"\n")
    res = invoke("status", str(out))
    assert res.exit_code == 0, res.output
    (line,) = warnings_in(res.output)
    assert str(out / RUNS_FILE) in line and "line 4 (not UTF-8 text), line 5 (not UTF-8 text)" in line


def test_a_torn_last_line_alone_is_skipped_quietly(base: Path):
    out = copy_of(base, "being_written")
    with open(out / RUNS_FILE, "a") as fh:
        fh.write('{"job_id": "random|default|catch|3", "sta')  # a writer killed (or still writing)
    assert len(read_records(out)) == 3
    res = invoke("status", str(out))
    assert res.exit_code == 0 and not warnings_in(res.output), res.output


@pytest.mark.parametrize(("content", "message"), [
    ("[1]", "is not a wmbench results document (a JSON array"),
    ('{"runs": 5}', "is not a wmbench results document (an object without a 'runs' list"),
    ("{", "is not valid JSON"),
])  # fmt: skip
def test_compare_a_file_that_is_not_a_results_document(tmp_path: Path, content: str, message: str):
    path = tmp_path / "file.json"
    path.write_text(content)
    res = invoke("compare", str(path), "--out", str(tmp_path / "o"), *FAST)
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and message in res.output and "file.json" in res.output


def test_compare_a_document_with_bad_and_repeated_runs(base: Path, tmp_path: Path):
    doc = json.loads((base / DOCUMENT_FILE).read_text())
    doc["runs"] += [5, {"job_id": "j"}, doc["runs"][0]]
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    res = invoke("compare", str(path), "--out", str(tmp_path / "o"), *FAST)
    assert res.exit_code == 0, res.output
    assert len(warnings_in(res.output)) == 2 and "runs[3] (a JSON number, not an object)" in res.output
    comp = json.loads((tmp_path / "o" / "compare.json").read_text())["comparison"]
    assert comp["entries"][0]["runs_per_game"] == 3


# -- finding 7: the same runs are never pooled twice -------------------------------------------
def test_compare_the_same_dir_twice_counts_its_runs_once(base: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(base.parent)
    res = invoke("compare", "base", "base", "./base", str(base), "--out", str(tmp_path / "o"), *FAST)
    assert res.exit_code == 0, res.output
    comp = json.loads((tmp_path / "o" / "compare.json").read_text())["comparison"]
    assert [e["runs_per_game"] for e in comp["entries"]] == [3]
    assert len(json.loads((tmp_path / "o" / "compare.json").read_text())["runs"]) == 3
    assert sum("its runs are counted once" in n for n in comp["notes"]) == 3
    copy = copy_of(base, "copy")
    res = invoke("compare", "base", str(copy), "--out", str(tmp_path / "o"), *FAST)
    assert res.exit_code == 0, res.output
    comp = json.loads((tmp_path / "o" / "compare.json").read_text())["comparison"]
    assert [e["runs_per_game"] for e in comp["entries"]] == [3]
    assert any("3 run(s) of" in n and "exact copies" in n for n in comp["notes"])


def test_two_dirs_of_the_same_name_get_distinct_labels(base: Path, tmp_path: Path):
    other = tmp_path / "elsewhere" / "base"
    res = invoke("run", "--agent", "random", "--game", "catch", "--seeds", "3", "--episodes", "3", "--device", "cpu",
                 "--format", "json", "--out-dir", str(other))  # fmt: skip
    assert res.exit_code == 0, res.output
    res = invoke("compare", str(base), str(other), "--out", str(tmp_path / "o"), *FAST)
    assert res.exit_code == 0, res.output
    comp = json.loads((tmp_path / "o" / "compare.json").read_text())["comparison"]
    labels = [e["label"] for e in comp["entries"]]
    assert len(set(labels)) == 2 and len(comp["poi"]) == 2


# -- finding 11: compare checks --out before computing anything ------------------------------
def test_compare_unwritable_out_fails_up_front(base: Path, tmp_path: Path, monkeypatch):
    from wmbench_core import compare

    def never(*args, **kwargs):
        raise AssertionError("the comparison was computed before --out was checked")

    monkeypatch.setattr(compare, "build_comparison", never)
    (tmp_path / "afile").write_text("x")
    res = invoke("compare", str(base), "--out", str(tmp_path / "afile" / "sub"), *FAST)
    assert res.exit_code == 2, res.output
    assert res.output.strip() == f"wmbench: error: cannot write to --out {str(tmp_path / 'afile' / 'sub')!r}: " \
                                 "Not a directory"  # fmt: skip


# -- finding 14: a resumed job's loss curve keeps its earlier rows ------------------------------
def test_resumed_training_appends_to_the_loss_curve(tmp_path: Path):
    from wmbench_core.learning.monitor import TrainingMonitor

    first = TrainingMonitor(None, tmp_path, total_env_steps=10, tensorboard=False)
    first.log(1, {"loss/a": 1.0})
    first.log(2, {"loss/a": 0.9})
    with open(tmp_path / "losses.csv", "a") as fh:
        fh.write("3,0.1,0.")  # killed mid-row
    second = TrainingMonitor(None, tmp_path, total_env_steps=10, tensorboard=False)  # the resumed session
    second.log(3, {"loss/a": 0.8})
    lines = (tmp_path / "losses.csv").read_text().splitlines()
    assert lines[0] == "env_step,wall_time,loss/a" and lines.count(lines[0]) == 1
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3", "3"]
    second.log(4, {"loss/a": 0.7, "loss/b": 2.0})  # a new column: the file is rewritten, rows kept
    lines = (tmp_path / "losses.csv").read_text().splitlines()
    assert lines[0] == "env_step,wall_time,loss/a,loss/b"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3", "3", "4"]
    assert lines[1].split(",")[2] == "1.0" and lines[-1].endswith(",0.7,2.0")


# -- finding 18: atomically written files get the usual mode -------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_atomic_writes_respect_the_umask(base: Path, tmp_path: Path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        ResultsStore(base).write_document()
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (base / DOCUMENT_FILE).stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


# -- finding 9: foreign checkpoint files get one line, never the weights_only=False advice -------
def _foreign_files(tmp_path: Path) -> dict[str, Path]:
    contents = {
        "text": b"hello\n", "random": os.urandom(256), "zeros": bytes(256), "braces": b"{}", "empty": b"",
        "pickle4": pickle.dumps({"a": 1}, protocol=4), "pickle2": pickle.dumps({"a": 1}, protocol=2),
    }  # fmt: skip
    paths = {}
    for name, data in contents.items():
        paths[name] = tmp_path / f"{name}.ckpt"
        paths[name].write_bytes(data)
    return paths


def test_foreign_checkpoint_files_are_refused_in_one_clean_line(tmp_path: Path):
    from wmbench_core.agent import CheckpointError
    from wmbench_core.learning.checkpoint import load_checkpoint

    for name, path in _foreign_files(tmp_path).items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(CheckpointError) as info:
                load_checkpoint(path, "random")
        message = str(info.value)
        assert "corrupt, or not a wmbench checkpoint" in message, (name, message)
        assert "weights_only" not in message and "\n" not in message, (name, message)
        assert not caught, (name, [str(w.message) for w in caught])


def test_text_checkpoint_on_the_command_line(tmp_path: Path):
    path = tmp_path / "hello.ckpt"
    path.write_text("hello\n")
    p = subprocess.run([sys.executable, "-m", "wmbench_core", "run", "--agent", "random", "--game", "catch",
                        "--episodes", "1", "--device", "cpu", "--checkpoint", str(path), "--out-dir",
                        str(tmp_path / "o")], capture_output=True, text=True, stdin=subprocess.DEVNULL)  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [
        f"wmbench: error: checkpoint {str(path)!r} is truncated or corrupt, or not a wmbench checkpoint "
        "(not a file written by torch.save)"
    ]
    assert not (tmp_path / "o").exists()
