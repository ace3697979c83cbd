from __future__ import annotations

import json

import numpy as np
import pytest

from wmbench_core import metrics, reporting
from wmbench_core.agent import Agent
from wmbench_core.results import ResultsStore, read_records
from wmbench_core.runner import BenchmarkRunner, Job, execute_job
from wmbench_core.testing import FakeAgent


def test_earlier_harness_api(tmp_path):
    runner = BenchmarkRunner(agent="random", out_dir=tmp_path / "bench")
    res = runner.run(env_spec={"game": "ALE/Pong-v5"}, seeds=[0, 1], num_episodes=2)
    xs = res["aggregate"]["per_seed_means"]
    assert len(xs) == 2 and all(-21 <= x <= 21 for x in xs)
    assert metrics.iqm_of_array(xs) == pytest.approx(np.mean(xs))
    lo, hi = metrics.bootstrap_iqm_ci(xs, num_samples=2000, alpha=0.05)
    assert lo <= hi
    reporting.export_latex(res, tmp_path / "bench" / "benchmark_results.tex")
    for ext in ("json", "csv", "md", "tex"):
        assert (tmp_path / "bench" / f"benchmark_results.{ext}").is_file()
    record = res["runs"][0]
    for key in ("agent", "plugin", "plugin_version", "preset", "config", "game", "seed", "protocol",
                "env_steps_trained", "episode_returns", "episode_lengths", "wall_time", "device",
                "wmbench_version", "status", "versions"):  # fmt: skip
        assert key in record, key
    assert record["protocol"]["name"] == "atari100k" and record["env_id"] == "ALE/Pong-v5"


def test_adapter_cls_and_deterministic_seeds(tmp_path):
    a = BenchmarkRunner(adapter_cls=FakeAgent, out_dir=tmp_path / "a", train_steps=50).run("catch", [0, 1], 6)
    b = BenchmarkRunner(adapter_cls=FakeAgent, out_dir=tmp_path / "b", train_steps=50).run("catch", [0, 1], 6)
    assert [r["episode_returns"] for r in a["runs"]] == [r["episode_returns"] for r in b["runs"]]


class ExplodingAgent(FakeAgent):
    name = "exploding"

    def train(self, env_steps, progress=None):
        if self.seed == 1:
            raise RuntimeError("boom")
        return super().train(env_steps, progress)


def test_failed_job_is_recorded_and_others_run(tmp_path):
    res = BenchmarkRunner(adapter_cls=ExplodingAgent, out_dir=tmp_path, train_steps=10).run("catch", [0, 1, 2], 2)
    status = {r["seed"]: r["status"] for r in res["runs"]}
    assert status == {0: "ok", 1: "failed", 2: "ok"}
    failed = [r for r in res["runs"] if r["status"] == "failed"][0]
    assert "RuntimeError: boom" in failed["error"] and "Traceback" in failed["traceback"]
    assert res["aggregate"]["num_failed"] == 1


class NaNAgent(FakeAgent):
    def evaluate(self, num_episodes, render=False, **kwargs):
        return {"episode_returns": [float("nan")] * num_episodes, "episode_lengths": [1] * num_episodes}


def test_nan_returns_fail_the_job(tmp_path):
    record = execute_job(Job(agent="nan", game="catch", seed=0, episodes=2, train_steps=0), tmp_path,
                         factory=NaNAgent)  # fmt: skip
    assert record["status"] == "failed" and "non-finite" in record["error"]


def test_resume_skips_finished_jobs(tmp_path):
    calls = []

    class Counting(FakeAgent):
        def train(self, env_steps, progress=None):
            calls.append(self.seed)
            return super().train(env_steps, progress)

    BenchmarkRunner(adapter_cls=Counting, out_dir=tmp_path, train_steps=10).run("catch", [0, 1], 2)
    assert calls == [0, 1]
    BenchmarkRunner(adapter_cls=Counting, out_dir=tmp_path, train_steps=10, resume=True).run("catch", [0, 1, 2], 2)
    assert calls == [0, 1, 2]
    assert len(read_records(tmp_path)) == 3


def test_torn_last_line_is_ignored(tmp_path):
    store = ResultsStore(tmp_path)
    store.prepare()
    store.append({"job_id": "a|d|catch|0", "agent": "a", "game": "catch", "seed": 0, "status": "ok",
                  "episode_returns": [1.0]})  # fmt: skip
    with open(store.runs_path, "a") as fh:
        fh.write('{"job_id": "a|d|catch|1", "sta')  # killed mid-write
    assert [r["job_id"] for r in store.records()] == ["a|d|catch|0"]


def test_periodic_checkpoint_resumes_training(tmp_path):
    job = Job(agent="fake", game="catch", seed=0, episodes=2, train_steps=100, checkpoint_every=40)

    class Dying(FakeAgent):
        def train(self, env_steps, progress=None):
            super().train(min(env_steps, 90), progress)
            raise KeyboardInterrupt  # the worker dies after 90 steps

    with pytest.raises(KeyboardInterrupt):
        execute_job(job, tmp_path, factory=Dying)
    ckpt = tmp_path / "jobs" / job.dirname / "checkpoint.pt"
    assert json.loads(ckpt.read_text())["env_steps"] == 80
    record = execute_job(job, tmp_path, factory=FakeAgent)
    assert record["status"] == "ok" and record["resumed_from_env_step"] == 80
    assert record["env_steps_trained"] == 100


class StatefulAgent(Agent):
    """Counts steps per env; evaluate must reset the count at each new episode."""

    def initial_state(self, batch_size):
        return np.zeros(batch_size, dtype=np.int64)

    def act(self, observations, state):
        assert (state < 7).all(), "state was not reset at an episode start"
        return np.ones(len(observations), dtype=np.int64), state + 1


def test_evaluate_plays_exact_episode_count_and_resets_state():
    from wmbench_core.envs import make_env_spec

    agent = StatefulAgent(env=make_env_spec("catch"), seed=0)
    res = agent.evaluate(11, num_envs=4)
    assert len(res["episode_returns"]) == 11
    assert res["episode_lengths"] == [7] * 11
