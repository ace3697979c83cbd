"""The Ray executor on a real local Ray cluster (2 CPUs, loopback) started by this module."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from wmbench_core.executors import RayExecutor, start_ray
from wmbench_core.parsing import UsageError
from wmbench_core.results import read_records
from wmbench_core.suite import plan_suite, run_suite

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'wmbench[ray]' to test the Ray executor")

HERE = Path(__file__).resolve().parent
FACTORIES = {"faulty": "wmsuite_agents:FaultyAgent"}


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance whose workers can import ``wmsuite_agents`` (PYTHONPATH is
    inherited from this process by the raylet and its workers)."""
    if ray.is_initialized():
        ray.shutdown()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        mp.syspath_prepend(str(HERE))
        start_ray(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                  configure_logging=False)  # fmt: skip
        try:
            yield ray
        finally:
            ray.shutdown()
            sys.modules.pop("wmsuite_agents", None)


def returns_by_job(out_dir: Path) -> dict[str, list[float]]:
    return {r["job_id"]: r["episode_returns"] for r in read_records(out_dir) if r["status"] == "ok"}


def test_ray_executor_gives_the_same_results_as_local(tmp_path, ray_cluster):
    jobs = plan_suite("catch", ["random"], range(4), episodes=12, eval_envs=4)  # (Pong: test_suite.py)
    local = run_suite(jobs, tmp_path / "local", compare=False)
    ex = RayExecutor(tmp_path / "ray")
    res = run_suite(jobs, tmp_path / "ray", ex, compare=False)
    assert ex.slots == 2  # what the 2-CPU cluster fits at 1 CPU per job
    errors = [r.get("error") for r in read_records(tmp_path / "ray") if r["status"] != "ok"]
    assert sorted(res.ok) == sorted(local.ok) == sorted(j.id for j in jobs), errors
    assert returns_by_job(tmp_path / "ray") == returns_by_job(tmp_path / "local")
    assert {r["executor"] for r in read_records(tmp_path / "ray")} == {"ray"}
    assert ray_cluster.is_initialized()  # a cluster it did not start is left running


def test_ray_worker_killed_mid_job_is_retried_from_its_checkpoint(tmp_path, ray_cluster):
    marker = tmp_path / "markers"
    marker.mkdir()
    jobs = plan_suite("catch", ["faulty"], range(3), episodes=6, train_steps=40, checkpoint_every=10,
                      eval_envs=2, overrides={"marker_dir": str(marker), "victim_seed": 1, "kill_times": 1,
                                              "kill_at": 35, "step_sleep": 0.002})  # fmt: skip
    res = run_suite(jobs, tmp_path / "run", "ray", retries=1, factories=FACTORIES, compare=False)
    assert sorted(res.ok) == sorted(j.id for j in jobs) and res.retries == 1
    assert Counter(r["job_id"] for r in read_records(tmp_path / "run")) == Counter(j.id for j in jobs)
    victim = next(r for r in read_records(tmp_path / "run") if r["seed"] == 1)
    assert victim["attempts"] == 2 and "WorkerCrashedError" in victim["retried_errors"][0]
    assert victim["resumed_from_env_step"] == 30 and victim["train_summary"]["sessions"] == [0, 30]


def test_ray_refuses_resources_the_cluster_does_not_have(tmp_path, ray_cluster):
    with pytest.raises(UsageError, match="each job asks for GPU 1 but the Ray cluster has 0"):
        RayExecutor(tmp_path, resources='{"GPU": 1}').start()
    ex = RayExecutor(tmp_path, resources='{"CPU": 2}')
    ex.start()
    assert ex.slots == 1
