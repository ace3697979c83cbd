"""The suite at scale: planning, every executor, retries, lost workers, resume, status.

Jobs are tiny (the random agent or ``wmsuite_agents.FaultyAgent`` on catch, a few Pong
episodes), so the whole file runs in well under a minute, Ray included.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from wmbench_core.cli import cli
from wmbench_core.envs.games import ATARI100K_GAMES
from wmbench_core.executors import ProcessExecutor, parse_resources
from wmbench_core.parsing import UsageError
from wmbench_core.results import read_records
from wmbench_core.suite import SuiteEvents, plan_suite, run_suite, suite_status, write_comparison

HERE = Path(__file__).resolve().parent
FACTORIES = {"faulty": "wmsuite_agents:FaultyAgent"}


@pytest.fixture
def agents_importable(monkeypatch):
    """``wmsuite_agents`` importable here and in spawned workers (they inherit sys.path)."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))


def returns_by_job(out_dir: Path) -> dict[str, list[float]]:
    return {r["job_id"]: r["episode_returns"] for r in read_records(out_dir) if r["status"] == "ok"}


def job_counts(out_dir: Path) -> Counter:
    return Counter(r["job_id"] for r in read_records(out_dir))


def faulty_jobs(tmp_path: Path, seeds=range(4), train_steps=40, **overrides) -> list:
    marker = tmp_path / "markers"
    marker.mkdir(exist_ok=True)
    return plan_suite("catch", ["faulty"], seeds, episodes=6, train_steps=train_steps,
                      checkpoint_every=10, eval_envs=2,
                      overrides={"marker_dir": str(marker), **overrides})  # fmt: skip


# -- planning ---------------------------------------------------------------------------------
def test_plan_covers_agents_games_seeds_seed_major():
    jobs = plan_suite("atari100k", ["random", "fake"], range(5))
    assert len(jobs) == 2 * 26 * 5 == len({j.id for j in jobs})
    assert [j.game for j in jobs[:26]] == list(ATARI100K_GAMES) and {j.seed for j in jobs[:52]} == {0}
    assert jobs[0].episodes == 100  # the DIAMOND/TWM protocol's final evaluation
    sub = plan_suite("atari100k", ["random"], [0], games=["ALE/Pong-v5", "breakout", "Pong"])
    assert [j.game for j in sub] == ["Pong", "Breakout"]
    assert [j.game for j in plan_suite("catch", ["random"], [0])] == ["catch"]
    with pytest.raises(UsageError, match="not in suite atari100k"):
        plan_suite("atari100k", ["random"], [0], games=["catch"])
    with pytest.raises(UsageError, match="unknown suite 'atari26'; valid: atari100k, catch"):
        plan_suite("atari26", ["random"], [0])
    assert parse_resources('{"GPU": 1, "CPU": 4}') == {"GPU": 1.0, "CPU": 4.0}
    for bad in ('{"GPU": -1}', "GPU=1", '["GPU"]'):
        with pytest.raises(UsageError, match="--resources"):
            parse_resources(bad)


# -- executors agree --------------------------------------------------------------------------
def small_plan():
    catch = plan_suite("catch", ["random"], range(3), episodes=12, eval_envs=4)
    pong = plan_suite("atari100k", ["random"], [0], games=["Pong"], episodes=1, eval_envs=1)
    return catch + pong


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """small_plan() through the local executor once (with the final comparison against IRIS)."""
    out = tmp_path_factory.mktemp("local")
    return out, run_suite(small_plan(), out, "local", baselines="iris", compare_formats=["md"])


def test_local_and_process_executors_give_identical_results(tmp_path, local_run):
    jobs = small_plan()
    local_dir, local = local_run
    proc = run_suite(jobs, tmp_path / "process", "process", workers=2, compare=False)
    assert sorted(local.ok) == sorted(proc.ok) == sorted(j.id for j in jobs)
    assert returns_by_job(local_dir) == returns_by_job(tmp_path / "process")
    records = read_records(tmp_path / "process")
    assert {r["executor"] for r in records} == {"process"} and all(r["attempts"] == 1 for r in records)
    assert (tmp_path / "process" / "benchmark_results.md").is_file()


# -- retries ----------------------------------------------------------------------------------
def test_failing_job_is_retried_then_recorded_failed_and_the_suite_goes_on(tmp_path, agents_importable):
    # raises on its first attempt: one retry fixes it
    res = run_suite(faulty_jobs(tmp_path, seeds=[0, 1], victim_seed=1, raise_times=1), tmp_path / "a",
                    retries=1, factories=FACTORIES, compare=False)  # fmt: skip
    assert sorted(res.ok) == ["faulty|default|catch|0", "faulty|default|catch|1"] and res.retries == 1
    victim = [r for r in read_records(tmp_path / "a") if r["seed"] == 1]
    assert len(victim) == 1 and victim[0]["attempts"] == 2
    assert "RuntimeError: deliberate failure" in victim[0]["retried_errors"][0]
    # NaN returns every time: recorded failed after 1 + 2 attempts, the other job is fine
    res = run_suite(faulty_jobs(tmp_path, seeds=[0, 1], victim_seed=1, nan=True), tmp_path / "b",
                    retries=2, factories=FACTORIES, compare=False)  # fmt: skip
    assert res.failed == ["faulty|default|catch|1"] and res.ok == ["faulty|default|catch|0"]
    (failed,) = [r for r in read_records(tmp_path / "b") if r["status"] == "failed"]
    assert failed["attempts"] == 3 and "FloatingPointError" in failed["error"]
    assert job_counts(tmp_path / "b") == Counter({"faulty|default|catch|0": 1, "faulty|default|catch|1": 1})
    # an agent that cannot be imported fails its job, not the driver
    res = run_suite(plan_suite("catch", ["ghost"], [0], episodes=2), tmp_path / "c", retries=0,
                    factories={"ghost": "no_such_module:Agent"}, compare=False)  # fmt: skip
    (failed,) = read_records(tmp_path / "c")
    assert res.failed == [failed["job_id"]] and "ModuleNotFoundError" in failed["error"]


class Recorder(SuiteEvents):
    def __init__(self) -> None:
        self.progress_seen: list[tuple[str, int, int]] = []
        self.finished_ids: list[str] = []
        self.retried: list[str] = []

    def progress(self, job_id: str, env_steps: int, total: int) -> None:
        self.progress_seen.append((job_id, env_steps, total))

    def finished(self, record: dict) -> None:
        self.finished_ids.append(record["job_id"])

    def retrying(self, job, error: str, attempt: int, charged: bool) -> None:
        self.retried.append(job.id)


def test_killed_worker_is_retried_and_resumes_from_its_checkpoint(tmp_path, agents_importable):
    clean = run_suite(faulty_jobs(tmp_path, step_sleep=0.002), tmp_path / "clean", factories=FACTORIES, compare=False)
    jobs = faulty_jobs(tmp_path, victim_seed=1, kill_times=1, kill_at=35, step_sleep=0.002)
    ex = ProcessExecutor(tmp_path / "killed", workers=2, factories=FACTORIES)
    events = Recorder()
    res = run_suite(jobs, tmp_path / "killed", ex, retries=1, compare=False, events=events)
    assert {total for _, _, total in events.progress_seen} == {40}  # training progress from the workers
    assert len(events.finished_ids) == len(jobs) and "faulty|default|catch|1" in events.retried
    assert sorted(res.ok) == sorted(clean.ok) and not res.failed
    assert ex.pool_restarts == 1
    assert job_counts(tmp_path / "killed") == Counter({j.id: 1 for j in jobs})  # nothing lost or repeated
    assert returns_by_job(tmp_path / "killed") == returns_by_job(tmp_path / "clean")
    victim = next(r for r in read_records(tmp_path / "killed") if r["seed"] == 1)
    assert victim["resumed_from_env_step"] == 30  # last checkpoint (every 10 steps) before the kill
    assert victim["train_summary"]["sessions"] == [0, 30]


def test_lost_worker_recorded_failed_then_resume_finishes_the_rest(tmp_path, agents_importable):
    jobs = faulty_jobs(tmp_path, victim_seed=2, kill_times=2, kill_at=25, step_sleep=0.002)
    out = tmp_path / "run"
    res = run_suite(jobs, out, "process", workers=2, retries=0, factories=FACTORIES, compare=False)
    assert res.failed == ["faulty|default|catch|2"] and len(res.ok) == 3
    (failed,) = [r for r in read_records(out) if r["status"] == "failed"]
    assert "worker process died" in failed["error"] and "BrokenProcessPool" in failed["error"]
    st = suite_status(out)
    assert st.failed == ["faulty|default|catch|2"] and st.remaining == ["faulty|default|catch|2"]
    with pytest.raises(UsageError, match="add --resume"):
        run_suite(jobs, out, "process", workers=2, factories=FACTORIES, compare=False)
    again = run_suite(jobs, out, "process", workers=2, resume=True, factories=FACTORIES, compare=False)
    assert again.ok == ["faulty|default|catch|2"] and sorted(again.skipped) == sorted(res.ok)
    counts = job_counts(out)
    assert all(counts[j] == 1 for j in res.ok) and counts["faulty|default|catch|2"] == 2
    assert suite_status(out).remaining == [] and not suite_status(out).failed
    victim = [r for r in read_records(out) if r["seed"] == 2][-1]
    assert victim["resumed_from_env_step"] == 20


# -- CLI --------------------------------------------------------------------------------------
def test_cli_suite_dry_run_status_and_one_line_errors(tmp_path, monkeypatch):
    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(cli, ["suite", "catch", "--agent", "random", "--seeds", "2", "--episodes", "5",
                              "--no-compare", "--out-dir", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["suite", "catch", "--agent", "random", "--seeds", "3", "--episodes", "5",
                              "--out-dir", str(out), "--dry-run", "--resume"])  # fmt: skip
    assert res.exit_code == 0 and "3 jobs planned, 2 already done, 1 would run" in res.output
    assert not (out / "jobs" / "random-default-catch-2").exists()
    res = runner.invoke(cli, ["status", str(out)])
    assert res.exit_code == 0 and "2 ok" in res.output and "not running" in res.output
    data = json.loads(runner.invoke(cli, ["status", str(out), "--json"]).output)
    assert data["ok"] == 2 and data["failed"] == {} and data["remaining"] == 0
    bad = [
        (["suite", "atari100k", "--agent", "random", "--games", "Pong,Pongg"], "unknown game 'Pongg'"),
        (["suite", "catch", "--agent", "random", "--executor", "local", "--workers", "2"], "--workers needs"),
        (["suite", "catch", "--agent", "random", "--resources", "{GPU}"], "--resources"),
        (["suite", "catch", "--agent", "random", "--retries", "-1"], "--retries must be >= 0"),
        (["suite", "catch", "--agent", "random", "--executor", "ray", "--resources", '{"GPU": 1}'], "--device cuda"),
        (["status", str(tmp_path / "nothing")], "not a wmbench run dir"),
    ]
    import wmbench_core.executors as executors

    monkeypatch.setattr(executors, "ray_available", lambda: False)
    bad.append((["suite", "catch", "--agent", "random", "--executor", "ray"], "pip install 'wmbench[ray]'"))
    for args, message in bad:
        res = runner.invoke(cli, args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output and "Traceback" not in res.output
        assert len(res.output.strip().splitlines()) == 1, res.output


def test_a_second_driver_on_a_running_dir_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    running = {"pid": os.getppid(), "host": __import__("socket").gethostname(), "finished": False, "running": []}
    (out / "suite_running.json").write_text(json.dumps(running))
    with pytest.raises(UsageError, match=f"already running .* pid {os.getppid()}"):
        run_suite(plan_suite("catch", ["random"], [0], episodes=2), out, compare=False)
    (out / "suite_running.json").write_text(json.dumps({**running, "finished": True}))
    assert run_suite(plan_suite("catch", ["random"], [0], episodes=2), out, compare=False).ok


def test_torn_last_line_does_not_swallow_the_next_record(tmp_path):
    jobs = plan_suite("catch", ["random"], range(2), episodes=3)
    out = tmp_path / "run"
    run_suite(jobs[:1], out, compare=False)
    with open(out / "runs.jsonl", "a") as fh:
        fh.write('{"job_id": "random|default|catch|1", "status": "o')  # killed mid-write
    res = run_suite(jobs, out, resume=True, compare=False)
    assert res.ok == ["random|default|catch|1"]
    assert job_counts(out) == Counter({j.id: 1 for j in jobs})


# -- the driver killed midway -------------------------------------------------------------------
def test_driver_killed_midway_then_resume_loses_and_repeats_nothing(tmp_path):
    import signal
    import subprocess
    import time

    out = tmp_path / "run"
    # 6 jobs of ~0.5 s each (1,500 random episodes of catch)
    args = [sys.executable, "-m", "wmbench_core", "suite", "catch", "--agent", "random",
            "--seeds", "6", "--episodes", "1500", "--no-compare", "--out-dir", str(out)]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not read_records(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        st = suite_status(out)  # from another process, while the suite runs
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = read_records(out)
    assert 1 <= len(before) < 6, "the suite should be killed midway"
    assert st.driver_alive and len(st.planned) == 6 and len(st.ok) >= 1
    res = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    after = read_records(out)
    assert after[: len(before)] == before  # finished jobs untouched
    assert Counter(r["job_id"] for r in after) == Counter(f"random|default|catch|{s}" for s in range(6))
    assert suite_status(out).driver_alive is False and not suite_status(out).remaining


def test_final_reports_include_the_hns_comparison_with_baselines(tmp_path, local_run):
    pytest.importorskip("wmbench_core.compare", reason="the statistics module is not installed")
    out, res = local_run
    assert str(out / "compare.md") in res.reports and not (out / "compare_error.txt").exists()
    text = (out / "compare.md").read_text()
    assert "| IRIS |" in text and "| random |" in text
    assert write_comparison(out, baselines="none", formats=["md"]) == [str(out / "compare.md")]
    assert "| IRIS |" not in (out / "compare.md").read_text()
    # a bad baseline name: the error is written next to the results, which stay intact
    assert write_comparison(out, ["no-such-baseline"], ["md"]) == [str(out / "compare_error.txt")]


def test_status_eta_is_projected_from_jobs_in_flight_until_one_finishes(tmp_path):
    """Before any job has finished (an Atari 100k job takes days) the ETA comes from the jobs in
    flight: wall time so far / fraction of env steps done, once past 10% of them."""
    import time

    from click.testing import CliRunner

    from wmbench_core.cli.suite import status_command
    from wmbench_core.suite import RunningFile

    now = time.time()
    running = RunningFile(tmp_path, pending=0)
    running.running = {
        f"a|p|g|{seed}": {"job_id": f"a|p|g|{seed}", "started_unix": now - 100, "steps_unix": now,
                          "env_steps": steps, "total_env_steps": 100}
        for seed, steps in ((0, 25), (1, 5))  # seed 1 is still in its first 10%
    }  # fmt: skip
    running.write()
    st = suite_status(tmp_path)
    assert st.eta_basis() == "jobs in flight"
    assert st.eta_seconds() == pytest.approx(2 * 400)  # 2 jobs left, 100 s for 25%, one at a time
    out = CliRunner().invoke(status_command, [str(tmp_path)])
    assert "ETA 0:13:20 (projected from the jobs in flight)" in out.output, out.output
    running.running["a|p|g|0"]["env_steps"] = 5
    running.write()
    assert suite_status(tmp_path).eta_seconds() is None  # nothing to project from yet


def test_live_overview_eta_projects_from_jobs_in_flight():
    from rich.console import Console

    from wmbench_core.cli.suite import LiveOverview
    from wmbench_core.runner import Job

    view = LiveOverview(Console(quiet=True), total=4, skipped=0, slots=2, title="t")
    assert view.eta() is None
    job = Job("a", "g", 0, episodes=1, preset="p")
    view.started(job, 1)
    view.progress(job.id, 5, 100)
    assert view.eta() is None  # the first 10% (prefill) says little
    view.running[job.id]["t0"] -= 50.0
    view.progress(job.id, 50, 100)
    assert view.eta() == pytest.approx(4 * 100 / 2, rel=0.01)  # 4 jobs of ~100 s, two at a time
