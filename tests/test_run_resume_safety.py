"""`wmbench run` and `wmbench suite` never replace, mix or silently continue earlier work.

Finished jobs and half-trained job checkpoints are refused without --resume; --resume refuses work
made with other settings (records, job checkpoints); one driver per run dir; a GPU that is not
there, alternatives given together: one line, exit 2, before anything is written. Ctrl-C: exit 130
with a --resume hint. Every job is the random or fake agent on catch (well under a second each).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import wmbench_core.executors as executors_module
import wmbench_core.runner as runner_module
from wmbench_core.agents.random_agent import RandomAgent
from wmbench_core.cli import cli
from wmbench_core.parsing import UsageError
from wmbench_core.results import read_records
from wmbench_core.runner import BenchmarkRunner, Job, execute_job, job_checkpoint, plan_jobs
from wmbench_core.specs import AgentSpec
from wmbench_core.suite import check_resumable, plan_suite
from wmbench_core.testing import FakeAgent


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def one_line_error(res, exit_code: int = 2) -> str:
    assert res.exit_code == exit_code, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


def run_catch(out: Path, *extra: str):
    return invoke("run", "--agent", "random", "--game", "catch", "--out-dir", str(out), *extra)


def die_after(agent_cls: type, steps: int) -> type:
    """``agent_cls`` whose training saves a checkpoint at ``steps`` env steps and is then killed."""

    class Dying(agent_cls):
        def train(self, env_steps, progress=None):
            self.env_steps_trained = steps
            self.save_checkpoint(self.checkpoint_path)
            raise KeyboardInterrupt

    return Dying


# -- 1: a job checkpoint is continued only with --resume and the same settings --------------------
def test_partial_checkpoint_needs_resume_and_the_same_settings(tmp_path):
    out = tmp_path / "run"
    job = Job(agent="random", preset="default", game="catch", seed=0, episodes=2, train_steps=1000)
    with pytest.raises(KeyboardInterrupt):
        execute_job(job, out, factory=die_after(RandomAgent, 600))
    ckpt = job_checkpoint(job, out)
    before = ckpt.read_bytes()
    message = one_line_error(run_catch(out, "--episodes", "2", "--train-steps", "1000"))
    assert "partial checkpoint" in message and "add --resume" in message
    message = one_line_error(run_catch(out, "--episodes", "2", "--train-steps", "500", "--resume"))
    assert "started with other settings: train_steps=1000 (now 500)" in message
    assert ckpt.read_bytes() == before and not (out / "runs.jsonl").exists()
    res = run_catch(out, "--episodes", "2", "--train-steps", "1000", "--resume")
    assert res.exit_code == 0, res.output
    (record,) = read_records(out)
    assert record["status"] == "ok" and record["resumed_from_env_step"] == 600


def test_runner_never_continues_a_checkpoint_of_other_settings(tmp_path):
    job = Job(agent="fake", game="catch", seed=0, episodes=2, train_steps=100, overrides={"epsilon": 0.5})
    with pytest.raises(KeyboardInterrupt):
        execute_job(job, tmp_path, factory=die_after(FakeAgent, 80))
    ckpt = job_checkpoint(job, tmp_path)
    before = ckpt.read_bytes()

    def runner(epsilon: float, resume: bool) -> BenchmarkRunner:
        return BenchmarkRunner(adapter_cls=FakeAgent, out_dir=tmp_path, config={"epsilon": epsilon},
                               train_steps=100, resume=resume)  # fmt: skip

    with pytest.raises(UsageError, match="add --resume"):
        runner(0.5, resume=False).run("catch", [0], 2)
    with pytest.raises(UsageError, match=r"other settings: overrides\.epsilon=0\.5 \(now 0\.2\)"):
        runner(0.2, resume=True).run("catch", [0], 2)
    # the job itself refuses too (drivers that skipped the check): a failed record, checkpoint kept
    record = execute_job(replace(job, overrides={"epsilon": 0.2}), tmp_path, factory=FakeAgent)
    assert record["status"] == "failed" and "other settings" in record["error"]
    # ... and so does a resolved config that changed under the same options (another plugin version)
    settings = ckpt.parent / "job.json"
    saved = json.loads(settings.read_text())
    settings.write_text(json.dumps({**saved, "config": {"epsilon": 0.9}}))
    record = execute_job(job, tmp_path, factory=FakeAgent)
    assert record["status"] == "failed" and "config.epsilon=0.9 (now 0.5)" in record["error"]
    assert ckpt.read_bytes() == before and not read_records(tmp_path)
    settings.write_text(json.dumps(saved))
    doc = runner(0.5, resume=True).run("catch", [0], 2)
    (record,) = doc["runs"]
    assert record["status"] == "ok" and record["resumed_from_env_step"] == 80 and record["env_steps_trained"] == 100


# -- 2 and 8: finished records are neither replaced nor resumed with other options ---------------
def test_finished_jobs_need_resume_and_the_same_job_options(tmp_path):
    out = tmp_path / "run"
    assert run_catch(out, "--episodes", "4").exit_code == 0
    before = (out / "runs.jsonl").read_text()
    message = one_line_error(run_catch(out, "--episodes", "4"))
    assert "already holds 1 finished job(s)" in message and "add --resume" in message
    message = one_line_error(run_catch(out, "--episodes", "50", "--resume"))
    assert "other job options (episodes=4 (now 50))" in message and "another --out-dir" in message
    message = one_line_error(run_catch(out, "--episodes", "4", "--eval-envs", "2", "--resume"))
    assert "eval_envs=8 (now 2)" in message
    # a suite resuming a run dir (no suite.json) compares with the records too
    message = one_line_error(invoke("suite", "catch", "--agent", "random", "--seeds", "1", "--episodes", "7",
                                    "--resume", "--no-compare", "--out-dir", str(out)))  # fmt: skip
    assert "other job options (episodes=4 (now 7))" in message
    assert (out / "runs.jsonl").read_text() == before
    res = run_catch(out, "--episodes", "4", "--resume")
    assert res.exit_code == 0 and "1 of 1 jobs already finished" in res.output
    assert (out / "runs.jsonl").read_text() == before


# -- 4: job ids name the resolved preset ----------------------------------------------------------
def test_job_ids_name_the_resolved_preset(tmp_path, monkeypatch):
    from wmbench_core.plugins import get_registry

    spec = AgentSpec(name="twopresets", factory="no_such_module:Agent", presets={"big": "", "small": ""})
    monkeypatch.setitem(get_registry().agents, "twopresets", (spec, None))
    left_out = plan_jobs(["twopresets"], ["catch"], [0], 2)
    named = plan_jobs(["twopresets"], ["catch"], [0], 2, preset="big")
    assert [j.id for j in left_out] == [j.id for j in named] == ["twopresets|big|catch|0"]
    assert left_out[0].dirname == "twopresets-big-catch-0"
    assert [j.id for j in plan_suite("catch", ["twopresets"], [0])] == ["twopresets|big|catch|0"]
    assert plan_jobs(["twopresets"], ["catch"], [0], 2, preset="small")[0].id == "twopresets|small|catch|0"
    # a run dir written before: the record's id says "default", its preset the resolved one
    out = tmp_path / "old"
    out.mkdir()
    old = {"job_id": "twopresets|default|catch|0", "agent": "twopresets", "preset": "big", "game": "catch",
           "seed": 0, "episodes": 2, "status": "ok"}  # fmt: skip
    (out / "runs.jsonl").write_text(json.dumps(old) + "\n")
    assert check_resumable(out, left_out, resume=True) == {"twopresets|big|catch|0"}
    with pytest.raises(UsageError, match="already holds 1 finished job"):
        check_resumable(out, left_out, resume=False)


# -- 12: a device that is not there -------------------------------------------------------------
def test_unavailable_device_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    message = one_line_error(run_catch(tmp_path / "a", "--device", "cuda"))
    assert "'cuda' requested" in message and "valid here: auto, cpu" in message
    message = one_line_error(invoke("suite", "catch", "--agent", "random", "--device", "mps",
                                    "--executor", "process", "--out-dir", str(tmp_path / "b")))  # fmt: skip
    assert "'mps' requested" in message
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    executors_module.check_device("cuda", "ray")  # the cluster's GPUs: Ray checks --resources


# -- 13: one driver per run dir, refused before any display ---------------------------------------
def test_a_dir_with_a_running_driver_is_refused_before_any_display(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    running = {"pid": os.getppid(), "host": socket.gethostname(), "finished": False, "running": []}
    (out / "suite_running.json").write_text(json.dumps(running))
    for res in (run_catch(out, "--resume"),
                invoke("suite", "catch", "--agent", "random", "--seeds", "1", "--out-dir", str(out))):  # fmt: skip
        message = one_line_error(res)
        assert f"already running in {str(out)!r} (driver pid {os.getppid()})" in message
    assert sorted(p.name for p in out.iterdir()) == ["suite_running.json"]


def test_run_marks_the_dir_as_running(tmp_path, monkeypatch):
    out = tmp_path / "run"
    seen = []
    real = runner_module.execute_job

    def spy(job, out_dir, *args, **kwargs):
        seen.append(json.loads((Path(out_dir) / "suite_running.json").read_text()))
        return real(job, out_dir, *args, **kwargs)

    monkeypatch.setattr(runner_module, "execute_job", spy)
    assert run_catch(out, "--episodes", "2", "--seeds", "2").exit_code == 0
    assert [s["running"][0]["job_id"] for s in seen] == ["random|default|catch|0", "random|default|catch|1"]
    assert all(s["pid"] == os.getpid() and not s["finished"] for s in seen)
    assert json.loads((out / "suite_running.json").read_text())["finished"]


# -- 15: Ctrl-C --------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["run", "suite"])
def test_ctrl_c_exits_130_with_a_resume_hint(tmp_path, monkeypatch, command):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module, "execute_job", interrupted)
    monkeypatch.setattr(executors_module, "execute_job", interrupted)
    out = tmp_path / "run"
    if command == "run":
        res = run_catch(out)
    else:
        res = invoke("suite", "catch", "--agent", "random", "--seeds", "1", "--no-compare", "--out-dir", str(out))
    assert res.exit_code == 130, res.output
    assert f"finished jobs are kept in {out / 'runs.jsonl'}; continue with the same command plus --resume" in res.output
    assert "Aborted" not in res.output and "Traceback" not in res.output
    assert json.loads((out / "suite_running.json").read_text())["running"] == []  # nothing left "running"


# -- 20: help texts and alternatives ------------------------------------------------------------
def test_help_texts_and_alternatives_given_together(tmp_path):
    run_help = " ".join(invoke("run", "--help").output.split())
    for text in ("--checkpoint-every INTEGER Env steps between resumable checkpoints", "(0: off). [default: 0]",
                 "alternative to --train-steps", "alternative to --checkpoint", "Where agents train and evaluate",
                 "valid: csv,", "json, md,", "Without it, a dir holding finished"):  # fmt: skip
        assert text in run_help, text
    suite_help = " ".join(invoke("suite", "--help").output.split())
    assert "Where jobs run: local" in suite_help and "Where agents train and evaluate" in suite_help
    message = one_line_error(run_catch(tmp_path / "a", "--checkpoint", "x.ckpt", "--train-steps", "0"))
    assert message.endswith("--checkpoint and --train-steps are alternatives (evaluate a saved agent, or train "
                            "one); give one of them")  # fmt: skip
    suite = ("suite", "catch", "--agent", "random", "--all-agents", "--out-dir", str(tmp_path / "a"))
    for res in (run_catch(tmp_path / "a", "--all-agents"), invoke(*suite)):
        assert "--agent and --all-agents are alternatives" in one_line_error(res)
    assert not (tmp_path / "a").exists()
