"""Executors: where (agent, game, seed) jobs run.

Every executor runs :func:`run_job` (a thin wrapper of :func:`wmbench_core.runner.execute_job`)
and hands the driver an :class:`Outcome` per job: the job's record, or the news that the worker
running it was lost. The driver (:mod:`wmbench_core.suite`) alone writes the results store,
counts attempts and decides about retries, so every executor behaves the same way.

* :class:`LocalExecutor` — this process, one job at a time (a crash of the job is a crash of
  the driver, so there is nothing to survive).
* :class:`ProcessExecutor` — a pool of worker processes on this machine
  (``concurrent.futures.ProcessPoolExecutor``, spawn context). Workers get
  :data:`~wmbench_core.learning.allocator.MALLOC_ENV` and ``cores // workers`` torch/OpenMP
  threads. A worker killed mid-job (OOM killer, SIGKILL, segfault) breaks the whole pool:
  every job in flight fails with ``BrokenProcessPool``; the pool is rebuilt and, since the
  culprit cannot be told apart, those jobs are reported ``ambiguous`` (the driver re-runs
  them one at a time, so a second crash is attributed to the right job).
* :class:`RayExecutor` — each job a Ray task on a local or remote cluster (``address``), with
  per-job resources (``{"GPU": 1}``). A lost worker is a ``WorkerCrashedError`` for that task
  alone. Ray's own task retries are off (``max_retries=0``): the driver owns retries.

A job's agent is found through the plugin registry by name in the worker, or through a
``factories`` mapping of agent name -> ``"module:callable"`` (importable in the worker), which is
how tests and notebooks run agents that are not installed as plugins.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib
import json
import multiprocessing
import os
import queue as queue_module
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wmbench_core.agent import Progress
from wmbench_core.parsing import UsageError
from wmbench_core.runner import Job, execute_job

#: (job id, env steps done, env steps planned) from a worker's training loop
ProgressCallback = Callable[[str, int, int], None]

EXECUTORS = ("local", "process", "ray")
RAY_MISSING = "--executor ray needs Ray, which is not installed: pip install 'wmbench[ray]'"


@dataclass
class Outcome:
    """What became of one submitted job."""

    job: Job
    record: dict[str, Any] | None = None  # the job ran to its end (its record: ok or failed)
    crash: str | None = None  # or the worker/task running it was lost: what happened
    ambiguous: bool = False  # the crash took other jobs with it: the culprit is unknown


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def resolve_factory(ref: str) -> Callable[..., Any]:
    """``"package.module:AgentClass"`` -> the callable."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"agent factory {ref!r} is not of the form 'module:callable'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class _ThrottledProgress(Progress):
    """Forwards an agent's training progress at most every ``interval`` seconds."""

    def __init__(self, job_id: str, send: Callable[[str, int, int], None], interval: float = 1.0):
        self.job_id = job_id
        self.send = send
        self.interval = interval
        self.total = 0
        self._last = 0.0

    def start(self, total_env_steps: int, description: str = "") -> None:
        self.total = int(total_env_steps)
        self.send(self.job_id, 0, self.total)

    def update(self, env_steps: int, metrics: dict[str, float] | None = None) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval or env_steps >= self.total:
            self._last = now
            self.send(self.job_id, int(env_steps), self.total)


# -- what runs in a worker ------------------------------------------------------------------------
_worker_progress_queue: Any = None


def _limit_threads(threads: int | None) -> None:
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)  # read by torch/numpy when they are first imported
    import sys

    if "torch" in sys.modules:  # already imported (e.g. a reused Ray worker): set it directly
        sys.modules["torch"].set_num_threads(threads)


def _init_process_worker(threads: int | None, progress_queue: Any) -> None:
    """ProcessPoolExecutor initializer: threads, allocator, progress channel."""
    global _worker_progress_queue
    from wmbench_core.cli.errors import one_line_warnings
    from wmbench_core.learning.allocator import tune_malloc

    one_line_warnings()
    _limit_threads(threads)
    tune_malloc()  # MALLOC_ENV is in the environment too; this covers a pre-started interpreter
    _worker_progress_queue = progress_queue


def _queue_send(job_id: str, steps: int, total: int) -> None:
    with contextlib.suppress(Exception):  # progress is best effort, never a reason to fail a job
        _worker_progress_queue.put_nowait((job_id, steps, total))


def run_job(job: Job, out_dir: str, factory_ref: str | None = None, threads: int | None = None) -> dict[str, Any]:
    """Run one job in this (worker) process and return its record (never raises for the agent)."""
    from wmbench_core.cli.errors import one_line_warnings
    from wmbench_core.learning.allocator import tune_malloc

    one_line_warnings()
    _limit_threads(threads)
    tune_malloc()  # a Ray worker was not started with MALLOC_ENV: set the same in-process
    factory = resolve_factory(factory_ref) if factory_ref else None
    progress = _ThrottledProgress(job.id, _queue_send) if _worker_progress_queue is not None else None
    return execute_job(job, out_dir, progress, factory=factory)


@contextlib.contextmanager
def _environ(extra: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables while worker processes are started (they inherit them)."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def worker_env(threads: int) -> dict[str, str]:
    from wmbench_core.learning.allocator import MALLOC_ENV

    env = dict(MALLOC_ENV)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


# -- executors ------------------------------------------------------------------------------------
class Executor:
    """Runs submitted jobs; :meth:`wait` returns the outcomes of the jobs that ended."""

    name = "base"

    def __init__(
        self,
        out_dir: str | Path,
        factories: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.out_dir = str(Path(out_dir).resolve())  # workers may have another cwd
        self.factories = dict(factories or {})
        self.on_progress = on_progress

    @property
    def slots(self) -> int:
        """How many jobs may be in flight at once."""
        return 1

    @property
    def in_flight(self) -> int:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def start(self) -> None: ...

    def submit(self, job: Job) -> None:
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        """Outcomes of jobs that ended (waits up to ``timeout`` s for one; [] if none did)."""
        raise NotImplementedError

    def shutdown(self) -> None: ...

    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class LocalExecutor(Executor):
    """In this process, one job at a time (``wait`` runs the submitted job)."""

    name = "local"

    def __init__(self, out_dir: str | Path, factories: Mapping[str, str] | None = None,
                 on_progress: ProgressCallback | None = None) -> None:  # fmt: skip
        super().__init__(out_dir, factories, on_progress)
        self._job: Job | None = None

    @property
    def in_flight(self) -> int:
        return int(self._job is not None)

    def submit(self, job: Job) -> None:
        if self._job is not None:
            raise RuntimeError("the local executor runs one job at a time")
        self._job = job

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        job, self._job = self._job, None
        if job is None:
            return []
        ref = self.factories.get(job.agent)
        progress = _ThrottledProgress(job.id, self.on_progress, 0.5) if self.on_progress else None
        try:
            factory = resolve_factory(ref) if ref else None
        except Exception as exc:  # noqa: BLE001 - as a worker would report it
            return [Outcome(job, crash=f"{type(exc).__name__}: {exc}")]
        return [Outcome(job, record=execute_job(job, self.out_dir, progress, factory=factory))]


class ProcessExecutor(Executor):
    """A pool of ``workers`` processes on this machine."""

    name = "process"

    def __init__(
        self,
        out_dir: str | Path,
        workers: int | None = None,
        factories: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
        threads_per_worker: int | None = None,
        start_method: str = "spawn",
    ) -> None:
        super().__init__(out_dir, factories, on_progress)
        cores = available_cores()
        self.workers = int(workers or cores)
        if self.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {self.workers}")
        # torch's default is one thread per core in *every* process: oversubscribed, slower.
        self.threads = int(threads_per_worker or max(1, cores // self.workers))
        self.start_method = start_method
        self.pool: cf.ProcessPoolExecutor | None = None
        self.futures: dict[cf.Future, Job] = {}
        self.pool_restarts = 0
        self._queue: Any = None
        self._ready: list[Outcome] = []  # outcomes settled outside wait()

    @property
    def slots(self) -> int:
        return self.workers

    @property
    def in_flight(self) -> int:
        return len(self.futures) + len(self._ready)

    def describe(self) -> str:
        return f"process ({self.workers} workers x {self.threads} threads)"

    def start(self) -> None:
        if self.pool is None:
            self._new_pool()

    def _new_pool(self) -> None:
        ctx = multiprocessing.get_context(self.start_method)
        # A fresh progress queue per pool: a killed worker may leave the old one's lock held.
        self._queue = ctx.Queue()
        with _environ(worker_env(self.threads)):
            self.pool = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_init_process_worker,
                initargs=(self.threads, self._queue),
            )  # fmt: skip

    def submit(self, job: Job) -> None:
        self.start()
        assert self.pool is not None
        # spawn starts workers inside submit(): they inherit the allocator/thread settings.
        with _environ(worker_env(self.threads)):
            try:
                future = self.pool.submit(run_job, job, self.out_dir, self.factories.get(job.agent), self.threads)
            except cf.process.BrokenProcessPool:
                # A worker died since the last wait(): settle the jobs in flight, then go on
                # with a new pool (this job never ran, so it is not one of them).
                self._ready.extend(self._break_up([]))
                assert self.pool is not None
                future = self.pool.submit(run_job, job, self.out_dir, self.factories.get(job.agent), self.threads)
        self.futures[future] = job

    def _drain_progress(self) -> None:
        if self._queue is None or self.on_progress is None:
            return
        while True:
            try:
                job_id, steps, total = self._queue.get_nowait()
            except (queue_module.Empty, OSError, ValueError, EOFError):
                return
            self.on_progress(job_id, steps, total)

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        self._drain_progress()
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        if not self.futures:
            return []
        done, _ = cf.wait(list(self.futures), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        outcomes: list[Outcome] = []
        broken: list[tuple[Job, BaseException]] = []
        for future in done:
            job = self.futures.pop(future)
            try:
                outcomes.append(Outcome(job, record=future.result()))
            except cf.process.BrokenProcessPool as exc:
                broken.append((job, exc))
            except Exception as exc:  # noqa: BLE001 - e.g. the job could not be pickled
                outcomes.append(Outcome(job, crash=f"{type(exc).__name__}: {exc}"))
        if broken:
            outcomes.extend(self._break_up(broken))
        self._drain_progress()
        return outcomes

    def _break_up(self, broken: list[tuple[Job, BaseException]]) -> list[Outcome]:
        """The pool broke: it fails every job in flight at once. Collect them, rebuild it."""
        outcomes: list[Outcome] = []
        rest, _ = cf.wait(list(self.futures), timeout=60)
        for future in rest:
            job = self.futures.pop(future)
            try:
                outcomes.append(Outcome(job, record=future.result()))
            except Exception as exc:  # noqa: BLE001
                broken.append((job, exc))
        for future, job in list(self.futures.items()):  # never settled: treat as lost
            broken.append((job, RuntimeError("no answer from the broken pool")))
            self.futures.pop(future)
        for job, exc in broken:
            message = f"worker process died ({type(exc).__name__}: {exc})"
            outcomes.append(Outcome(job, crash=message, ambiguous=len(broken) > 1))
        self._discard_pool()
        self.pool_restarts += 1
        self._new_pool()
        return outcomes

    def _discard_pool(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        if self._queue is not None:
            with contextlib.suppress(Exception):
                self._queue.close()
                self._queue.cancel_join_thread()
            self._queue = None

    def shutdown(self) -> None:
        if self.pool is not None:
            # On an interrupt, do not wait hours for jobs in flight: stop the workers.
            for process in list(getattr(self.pool, "_processes", {}).values()):
                if self.futures:
                    process.terminate()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self.futures.clear()
        self._discard_pool()


def check_device(device: str, executor: str = "local") -> None:
    """``--device cuda``/``mps`` must exist here when jobs run on this machine (local and
    process executors): found out before any work, not as one failed record per job. A Ray
    cluster's devices are checked by Ray (``--resources``)."""
    if executor == "ray" or device in ("cpu", "auto"):
        return
    from wmbench_core.learning.device import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def parse_resources(text: str | Mapping[str, float] | None) -> dict[str, float]:
    """``'{"GPU": 1, "CPU": 4}'`` -> a dict of per-job Ray resources (validated)."""
    if text is None or text == "":
        return {}
    if isinstance(text, str):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--resources {text!r} is not JSON ({exc.msg}); e.g. '{{\"GPU\": 1}}'") from None
    else:
        value = dict(text)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    ):
        raise UsageError(
            f"--resources {text!r} must be a JSON object of resource name -> amount >= 0, "
            'e.g. \'{"GPU": 1}\' or \'{"CPU": 4, "GPU": 0.5}\''
        )
    return {k: float(v) for k, v in value.items()}


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def start_ray(attempts: int = 3, **init_kwargs: Any) -> None:
    """``ray.init``; a local start is tried again when it times out, as it does on a machine
    whose cores are busy (Ray waits a fixed 30 s for its raylet to register)."""
    import ray

    for attempt in range(1, attempts + 1):
        try:
            ray.init(**init_kwargs)
            return
        except Exception as exc:  # noqa: BLE001
            ray.shutdown()
            if init_kwargs.get("address") or "timed out during startup" not in str(exc) or attempt == attempts:
                raise


class RayExecutor(Executor):
    """Each job a Ray task, on a cluster at ``address`` or on a Ray instance started here."""

    name = "ray"

    def __init__(
        self,
        out_dir: str | Path,
        workers: int | None = None,
        factories: Mapping[str, str] | None = None,
        on_progress: ProgressCallback | None = None,
        address: str | None = None,
        resources: Mapping[str, float] | str | None = None,
        init_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(out_dir, factories, on_progress)
        if not ray_available():
            raise UsageError(RAY_MISSING)
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be >= 1, got {workers}")
        self.workers = workers
        self.address = address
        res = parse_resources(resources)
        self.num_cpus = res.pop("CPU", 1.0)
        self.num_gpus = res.pop("GPU", 0.0)
        self.custom = res
        self.init_kwargs = dict(init_kwargs or {})
        self.refs: dict[Any, Job] = {}
        self._remote: Any = None
        self._owns_ray = False
        self._capacity = 1

    @property
    def slots(self) -> int:
        return self.workers or self._capacity

    @property
    def in_flight(self) -> int:
        return len(self.refs)

    def per_job(self) -> dict[str, float]:
        return {"CPU": self.num_cpus, "GPU": self.num_gpus, **self.custom}

    def describe(self) -> str:
        asked = ", ".join(f"{k} {v:g}" for k, v in self.per_job().items() if v)
        where = self.address or "local Ray instance"
        return f"ray ({where}; {self.slots} jobs at once; per job: {asked})"

    def start(self) -> None:
        if self._remote is not None:
            return
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
            if self.address:
                kwargs["address"] = self.address
            else:
                kwargs["include_dashboard"] = False
            kwargs.update(self.init_kwargs)
            try:
                start_ray(**kwargs)
            except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, timeouts ...
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                where = f"connect to the Ray cluster at {self.address!r}" if self.address else "start Ray"
                raise UsageError(f"cannot {where}: {first}") from None
            self._owns_ray = True
        total = ray.cluster_resources()
        # An infeasible request makes Ray wait forever: refuse it up front.
        capacity = []
        for name, amount in self.per_job().items():
            if not amount:
                continue
            have = float(total.get(name, 0.0))
            if have < amount:
                have_s = ", ".join(f"{k} {v:g}" for k, v in sorted(total.items()) if "node:" not in k)
                raise UsageError(
                    f"each job asks for {name} {amount:g} but the Ray cluster has {have:g} "
                    f"(cluster resources: {have_s}); change --resources or the cluster"
                )
            capacity.append(int(have // amount))
        self._capacity = max(1, min(capacity) if capacity else 1)
        threads = max(1, int(self.num_cpus))
        # No per-task runtime_env: it makes Ray start a dedicated worker pool through its
        # runtime-env agent, slow and fragile on a loaded node. run_job applies the same
        # settings in the worker: mallopt (tune_malloc, equivalent to MALLOC_ENV) and the
        # thread count (Ray also sets OMP_NUM_THREADS to the task's CPUs).
        self._remote = ray.remote(run_job).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, resources=self.custom or None,
            max_retries=0,  # the driver retries, attributing and recording every attempt
        )  # fmt: skip
        self._threads = threads

    def submit(self, job: Job) -> None:
        self.start()
        ref = self._remote.remote(job, self.out_dir, self.factories.get(job.agent), self._threads)
        self.refs[ref] = job

    def wait(self, timeout: float | None = None) -> list[Outcome]:
        import ray

        if not self.refs:
            return []
        ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
        if ready:  # collect everything else that is ready too
            ready, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        outcomes = []
        for ref in ready:
            job = self.refs.pop(ref)
            try:
                outcomes.append(Outcome(job, record=ray.get(ref)))
            except Exception as exc:  # noqa: BLE001 - WorkerCrashedError, NodeDiedError, ...
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                outcomes.append(Outcome(job, crash=f"Ray task lost ({type(exc).__name__}: {first})"))
        return outcomes

    def shutdown(self) -> None:
        if self.refs:
            import ray

            for ref in list(self.refs):
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            self.refs.clear()
        if self._owns_ray:
            import ray

            ray.shutdown()
            self._owns_ray = False
        self._remote = None


def make_executor(
    kind: str,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    factories: Mapping[str, str] | None = None,
    on_progress: ProgressCallback | None = None,
    address: str | None = None,
    resources: Mapping[str, float] | str | None = None,
    ray_init: Mapping[str, Any] | None = None,
) -> Executor:
    """The executor named ``kind`` (``local``, ``process``, ``ray``), options validated."""
    if kind not in EXECUTORS:
        raise UsageError(f"unknown executor {kind!r}; valid: {', '.join(EXECUTORS)}")
    if kind != "ray" and address:
        raise UsageError("--address needs --executor ray")
    if kind != "ray" and resources:
        raise UsageError("--resources needs --executor ray (process workers share this machine)")
    if kind == "local":
        if workers not in (None, 1):
            raise UsageError("--workers needs --executor process or ray (local runs one job at a time)")
        return LocalExecutor(out_dir, factories, on_progress)
    if kind == "process":
        return ProcessExecutor(out_dir, workers, factories, on_progress)
    return RayExecutor(out_dir, workers, factories, on_progress, address=address,
                       resources=resources, init_kwargs=ray_init)  # fmt: skip
