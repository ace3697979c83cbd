"""The core's training-episode log: every agent's learning curve, kept across kills and resumes."""

from __future__ import annotations

import os

import numpy as np
import pytest

from wmbench_core.envs import make_env_spec
from wmbench_core.envs.episode_log import EpisodeLog, read_episode_log, read_rows
from wmbench_core.results import record_problem
from wmbench_core.runner import BenchmarkRunner, Job, execute_job
from wmbench_core.testing import FakeAgent

CATCH_LEN = 7  # a catch episode is always 7 steps


def test_training_env_logs_each_finished_episode(tmp_path):
    log = EpisodeLog(tmp_path / "episodes.csv")
    log.start(0)
    env = make_env_spec("catch").recording_episodes(log).make(seed=0)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    returns, total = [], 0.0
    for _ in range(5 * CATCH_LEN):
        _, reward, terminated, truncated, _ = env.step(int(rng.integers(3)))
        total += reward
        if terminated or truncated:
            returns.append(total)
            total = 0.0
            env.reset()
    for _ in range(3):  # an episode cut short by a reset is not a finished episode
        env.step(0)
    env.reset()
    env.step(0)
    rows = read_rows(log.path)
    assert [r[0] for r in rows] == [CATCH_LEN * (i + 1) for i in range(5)]
    assert [r[1] for r in rows] == returns
    assert all(r[2] == CATCH_LEN for r in rows)
    assert log.env_step == 5 * CATCH_LEN + 4  # every step counts, finished episode or not


def test_unlogged_spec_and_evaluation_envs_do_not_log(tmp_path):
    spec = make_env_spec("catch")
    assert spec.episode_log is None and spec == spec.recording_episodes(EpisodeLog(tmp_path / "x.csv"))
    assert type(spec.make()).__name__ == "CatchEnv"


def test_start_drops_rows_played_after_the_resumed_checkpoint(tmp_path):
    path = tmp_path / "episodes.csv"
    path.write_text("env_step,return,length\n7,1.0,7\n14,-1.0,7\n21,1.0,7\n28,-1")  # last row torn by a kill
    log = EpisodeLog(path)
    log.start(16)
    assert read_rows(path) == [(7, 1.0, 7), (14, -1.0, 7)]
    log.episode(5.0, 3)
    assert read_episode_log(path) == {"env_step": [7, 14, 16], "return": [1.0, -1.0, 5.0], "length": [7, 7, 3]}
    assert read_episode_log(tmp_path / "missing.csv") is None
    path.write_bytes(b"\xff\xfe\x00garbage\n7,1.0,7\n\x00\x00\n14,nan,7\n21,2,7")  # damaged: skip, never raise
    assert read_rows(path) == [(7, 1.0, 7), (21, 2.0, 7)]


def test_every_job_records_its_learning_curve(tmp_path):
    res = BenchmarkRunner(adapter_cls=FakeAgent, out_dir=tmp_path, train_steps=50).run("catch", [0], 2)
    (record,) = res["runs"]
    curve = record["train_episodes"]
    assert curve["env_step"] == [CATCH_LEN * (i + 1) for i in range(50 // CATCH_LEN)]
    assert curve["length"] == [CATCH_LEN] * len(curve["env_step"])
    assert set(curve["return"]) <= {-1.0, 1.0}
    assert (tmp_path / "jobs" / "fake-default-catch-0" / "train_episodes.csv").is_file()
    assert record_problem(record) is None


def test_resumed_job_keeps_one_curve_without_the_replayed_episodes(tmp_path):
    job = Job(agent="fake", game="catch", seed=0, episodes=2, train_steps=100, checkpoint_every=40)

    class Dying(FakeAgent):
        def train(self, env_steps, progress=None):
            super().train(min(env_steps, 90), progress)
            raise KeyboardInterrupt  # the worker dies after 90 steps; its checkpoint is at 80

    with pytest.raises(KeyboardInterrupt):
        execute_job(job, tmp_path, factory=Dying)
    died = read_rows(tmp_path / "jobs" / job.dirname / "train_episodes.csv")
    assert [r[0] for r in died][-2:] == [77, 84]
    record = execute_job(job, tmp_path, factory=FakeAgent)
    steps = record["train_episodes"]["env_step"]
    # up to the checkpoint as before; 84 (played after it) is gone; the resumed env starts afresh at 80
    assert steps == [r[0] for r in died if r[0] <= 80] + [87, 94]
    assert record["train_episodes"]["return"][:11] == [r[1] for r in died][:11]


@pytest.mark.parametrize(
    "curve",
    [
        [1, 2],
        {"env_step": [7], "return": [1.0]},
        {"env_step": [7, 14], "return": [1.0], "length": [7]},
        {"env_step": [7], "return": [float("nan")], "length": [7]},
        {"env_step": ["7"], "return": [1.0], "length": [7]},
    ],
)
def test_a_malformed_curve_makes_the_record_unusable(curve):
    record = {"job_id": "a|d|catch|0", "agent": "a", "game": "catch", "seed": 0, "train_episodes": curve}
    assert "train_episodes" in record_problem(record)


def test_status_of_a_run_whose_first_job_is_training(tmp_path):
    """`wmbench status` on a run dir holding only the driver's marker and the job's curve so far."""
    from click.testing import CliRunner

    from wmbench_core.cli.suite import status_command
    from wmbench_core.runner import job_dirname
    from wmbench_core.suite import RunningFile, suite_status

    job = "dreamerv3|tiny|catch|0"
    running = RunningFile(tmp_path, pending=0)
    running.running = {job: {"job_id": job, "attempt": 1, "started": "now"}}
    running.write()  # this process is the (live) driver
    log = EpisodeLog(tmp_path / "jobs" / job_dirname(job) / "train_episodes.csv")
    log.start(0)
    for i in range(12):
        log.env_step += 7
        log.episode(1.0 if i >= 7 else -1.0, 7)
    (r,) = suite_status(tmp_path).running
    assert (r["train_episodes"], r["last_episode_env_step"]) == (12, 84)
    assert r["recent_return"] == 0.0  # the last 10: five losses, then five catches
    out = CliRunner().invoke(status_command, [str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "1 running" in out.output and f"driver pid {os.getpid()}" in out.output
    assert "12 training episodes, the last ending at env step 84; mean return of the last 10: 0" in out.output


def test_vector_training_envs_log_and_evaluation_envs_do_not(tmp_path):
    log = EpisodeLog(tmp_path / "episodes.csv")
    log.start(0)
    spec = make_env_spec("catch").recording_episodes(log)
    venv = spec.make_vector(3, training=True)
    venv.reset(seed=0)
    rewards = []
    for _ in range(2 * CATCH_LEN):
        _, reward, terminated, _, _ = venv.step(np.array([0, 1, 2]))
        rewards.append(reward)
    venv.close()
    rows = read_rows(log.path)
    # 3 envs x 2 episodes, each 7 steps; a vector step is 3 agent steps
    assert [r[0] for r in rows] == [21] * 3 + [42] * 3 and {r[2] for r in rows} == {CATCH_LEN}
    rewards = np.array(rewards)
    assert [r[1] for r in rows] == [*rewards[:CATCH_LEN].sum(0), *rewards[CATCH_LEN:].sum(0)]
    evaluation = spec.make_vector(3)
    evaluation.reset(seed=0)
    for _ in range(CATCH_LEN):
        evaluation.step(np.array([0, 1, 2]))
    assert len(read_rows(log.path)) == 6 and log.env_step == 42


def test_progress_shows_the_mean_return_of_the_latest_training_episodes(tmp_path):
    from wmbench_core.agent import Progress

    class Recording(Progress):
        updates: list = []

        def update(self, env_steps, metrics=None):
            self.updates.append((env_steps, dict(metrics or {})))

    job = Job(agent="fake", game="catch", seed=0, episodes=2, train_steps=140)
    record = execute_job(job, tmp_path, progress=Recording(), factory=FakeAgent)
    updates = Recording.updates
    assert all("return" not in m for s, m in updates if s < CATCH_LEN)  # no episode finished yet
    assert all(list(m)[:2] == ["return", "visits"] for s, m in updates if s >= CATCH_LEN)
    assert updates[-1][1]["return"] == pytest.approx(np.mean(record["train_episodes"]["return"][-10:]))


def test_run_prints_where_training_started_and_ended():
    from wmbench_core.cli.run import _training

    curve = {"env_step": [5, 10, 50, 90, 100], "return": [-1.0, -3.0, 0.0, 4.0, 6.0], "length": [5] * 5}
    assert _training({"train_episodes": curve}) == "; training return -2.00 -> 5.00 (5 episodes)"
    assert _training({}) == ""
