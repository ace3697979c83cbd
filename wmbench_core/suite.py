"""Suites at scale: plan every (agent, game, seed) job, run them on an executor, retry, resume.

::

    jobs = plan_suite("atari100k", ["iris", "diamond"], seeds=range(5))
    result = run_suite(jobs, "results/atari100k", executor="process", workers=2, retries=1)

The driver loop (:func:`run_suite`) keeps up to ``executor.slots`` jobs in flight and appends
each finished job to the run dir's ``runs.jsonl`` the moment it lands (the driver is the only
writer of the store). A job whose record says ``failed`` (exception, non-finite returns) or
whose worker was lost is run again, up to ``retries`` more times, and then recorded as failed
with its error; the suite goes on. Jobs that were in flight together when a process pool broke
are re-run one at a time, uncharged, so a job that kills its worker is identified and charged
while its neighbours are not. A job that is re-run resumes from its last periodic checkpoint
(``jobs/<job>/checkpoint.pt``, every ``checkpoint_every`` env steps).

Besides ``runs.jsonl`` the driver writes ``suite.json`` (the plan and its options, once) and
``suite_running.json`` (jobs in flight, rewritten atomically as they change), which is all
``wmbench status DIR`` needs to show progress from another shell while the suite runs.
``wmbench run`` writes ``suite_running.json`` too, and both go through :func:`check_resumable`
before any work: one driver per run dir, and finished or half-trained work is neither replaced
nor continued with other settings.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wmbench_core.envs.games import SUITES, TOY_GAMES, resolve_game
from wmbench_core.executors import Executor, Outcome, check_device, make_executor
from wmbench_core.parsing import UsageError
from wmbench_core.results import (
    DOCUMENT_FILE,
    RUNS_FILE,
    ResultsStore,
    atomic_write_text,
    dumps,
    run_dir_records,
)
from wmbench_core.runner import (
    Job,
    checkpoint_conflict,
    describe_differences,
    job_checkpoint,
    job_dirname,
    job_records,
    resolve_preset,
)

#: Final evaluation episodes per run: the Atari 100k protocol of DIAMOND (and TWM/STORM) scores
#: a run by the mean return of 100 test episodes after training (shared/research/diamond.md §3).
DEFAULT_EPISODES = 100
#: Env steps between resumable checkpoints: a lost worker costs at most 10% of a 100k-step run.
DEFAULT_CHECKPOINT_EVERY = 10_000
DEFAULT_RETRIES = 1

SUITE_FILE = "suite.json"
RUNNING_FILE = "suite_running.json"
#: ``wmbench status`` projects a job's wall time from one in flight once it is this far along
PROJECTION_MIN_FRACTION = 0.1
# Job options that change a job's result: resuming a run dir with other values would mix runs.
_PLAN_KEYS = ("episodes", "train_steps", "overrides", "protocol", "eval_envs", "checkpoint")


def suite_names() -> list[str]:
    return [*SUITES, *TOY_GAMES]


def suite_games(suite: str, games: Iterable[str] | None = None) -> list[str]:
    """The games of ``suite`` (``atari100k`` or a toy game such as ``catch``), or the subset
    ``games`` of them (names resolved leniently; each must belong to the suite)."""
    key = suite.strip().lower()
    if key in SUITES:
        members = list(SUITES[key])
    elif key in TOY_GAMES:
        members = [key]
    else:
        raise UsageError(f"unknown suite {suite!r}; valid: {', '.join(suite_names())}")
    chosen = [g for g in (games or []) if g.strip()]
    if not chosen:
        return members
    out = []
    for name in chosen:
        game = resolve_game(name)
        if game not in members:
            raise UsageError(f"--games: {game} is not in suite {key} (valid: {', '.join(members)})")
        if game not in out:
            out.append(game)
    return out


def plan_suite(
    suite: str,
    agents: Sequence[str],
    seeds: Iterable[int],
    games: Iterable[str] | None = None,
    episodes: int = DEFAULT_EPISODES,
    **job_kwargs: Any,
) -> list[Job]:
    """Every (agent, game, seed) job, seed-major: all of seed 0 first, so that a suite stopped
    halfway has whole tables for its first seeds rather than all seeds of a few games."""
    if episodes < 1:
        raise UsageError(f"--episodes must be a positive integer, got {episodes}")
    if not agents:
        raise UsageError("give at least one --agent")
    game_list = suite_games(suite, games)
    presets = {a: resolve_preset(a, job_kwargs.get("preset")) for a in agents}  # job ids name it
    job_kwargs = {k: v for k, v in job_kwargs.items() if k != "preset"}
    return [
        Job(agent=a, game=g, seed=int(s), episodes=episodes, preset=presets[a], **job_kwargs)
        for s in seeds for a in agents for g in game_list
    ]  # fmt: skip


# -- events (the CLI's live display implements these) ---------------------------------------------
class SuiteEvents:
    """Callbacks of the driver loop; this base class ignores them."""

    def started(self, job: Job, attempt: int) -> None: ...

    def progress(self, job_id: str, env_steps: int, total: int) -> None: ...

    def finished(self, record: dict[str, Any]) -> None: ...

    def retrying(self, job: Job, error: str, attempt: int, charged: bool) -> None: ...


@dataclass
class SuiteResult:
    document: dict[str, Any]
    planned: list[str]  # job ids of the plan
    skipped: list[str]  # already finished in the run dir (--resume)
    ok: list[str] = field(default_factory=list)  # finished ok in this session
    failed: list[str] = field(default_factory=list)  # recorded failed in this session
    retries: int = 0  # extra attempts made
    pool_restarts: int = 0
    wall_time: float = 0.0
    reports: list[str] = field(default_factory=list)


def _plan_fingerprint(job: Job) -> dict[str, Any]:
    """The job options of :data:`_PLAN_KEYS` as JSON gives them back (protocol resolved)."""
    import json

    options = {k: getattr(job, k) for k in _PLAN_KEYS}
    options["protocol"] = job.resolved_protocol()
    return json.loads(dumps(options))


def _other_options(before: Mapping[str, Any], job: Job) -> list[str]:
    """How the job options ``before`` (a manifest's plan options or a record) differ from ``job``'s."""
    from wmbench_core.envs.protocol import ATARI100K

    if "protocol" in before and before["protocol"] is None:  # manifests before protocols were resolved
        before = {**before, "protocol": ATARI100K.to_dict()}
    return describe_differences(before, _plan_fingerprint(job), _PLAN_KEYS)


def check_resumable(out_dir: str | Path, jobs: Sequence[Job], resume: bool) -> set[str]:
    """Job ids already finished ok in ``out_dir`` (to skip with ``resume``). Checked before any
    work, refusing with one line (UsageError): a run dir another suite or run is driving; finished
    jobs or partial job checkpoints of the plan without ``resume`` (they would be replaced or
    continued silently); and with ``resume``, a run dir planned, finished (its records) or
    checkpointed with other job options than ``jobs``."""
    out = str(Path(out_dir))
    _refuse_second_driver(Path(out_dir))
    records = job_records(out_dir)
    finished = {j.id for j in jobs if records.get(j.id, {}).get("status") == "ok"}
    if finished and not resume:
        raise UsageError(
            f"{out!r} already holds {len(finished)} finished job(s) of this plan; "
            "add --resume to skip them, or choose another --out-dir"
        )
    partial = [j for j in jobs if j.id not in finished and not j.checkpoint and job_checkpoint(j, out).is_file()]
    if partial and not resume:
        raise UsageError(
            f"{out!r} holds a partial checkpoint of {len(partial)} job(s) of this plan "
            f"({job_checkpoint(partial[0], out)}); add --resume to continue them, or choose another --out-dir"
        )
    if not resume:
        return set()
    manifest = load_manifest(out_dir)
    if manifest and manifest.get("plan_options") and jobs:
        _refuse_other_options(out, "was planned", _other_options(manifest["plan_options"], jobs[0]))
    for job in jobs:  # the records themselves: a run dir of `wmbench run` has no plan
        if job.id in finished:
            _refuse_other_options(out, f"holds job {job.id} finished", _other_options(records[job.id], job))
    for job in partial:
        conflict = checkpoint_conflict(job, out)
        if conflict:
            raise UsageError(f"--resume: {conflict}")
    return finished


def _refuse_other_options(out: str, what: str, diff: list[str]) -> None:
    if diff:
        raise UsageError(
            f"--resume: {out!r} {what} with other job options ({', '.join(diff)}); "
            "resume with the same options or use another --out-dir"
        )


def load_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    import json

    path = Path(out_dir) / SUITE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, OSError):
        return None


def crash_record(job: Job, error: str, started: float, wall_time: float) -> dict[str, Any]:
    """The record of a job whose worker was lost (the worker could not write one)."""
    from wmbench_core import __version__

    return {
        "job_id": job.id, "agent": job.agent, "preset": job.preset, "game": job.game,
        "seed": job.seed, "episodes": job.episodes, "train_steps": job.train_steps,
        "checkpoint": job.checkpoint, "device": job.device, "overrides": job.overrides,
        "eval_envs": job.eval_envs, "wmbench_version": __version__, "status": "failed", "error": error,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "wall_time": wall_time,
    }  # fmt: skip


class RunningFile:
    """``suite_running.json``: what is in flight, for ``wmbench status`` in another shell."""

    def __init__(self, out_dir: Path, pending: int) -> None:
        self.path = out_dir / RUNNING_FILE
        self.pending = pending
        self.running: dict[str, dict[str, Any]] = {}
        self._last_write = 0.0

    def write(self, force: bool = True, finished: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < 5.0:
            return
        self._last_write = now
        state = {
            "pid": os.getpid(), "host": socket.gethostname(), "finished": finished,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "updated_unix": time.time(),
            "pending": self.pending, "running": list(self.running.values()),
        }  # fmt: skip
        # Atomic (rename) but not fsync-ed: it is status information, rewritten all the time,
        # and an fsync per write would double the driver's cost per job.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            tmp.write_text(dumps(state))
            os.replace(tmp, self.path)
        except OSError:  # never stop the suite for it
            pass


def run_suite(
    jobs: Sequence[Job],
    out_dir: str | Path,
    executor: str | Executor = "local",
    *,
    workers: int | None = None,
    retries: int = DEFAULT_RETRIES,
    resume: bool = False,
    factories: Mapping[str, str] | None = None,
    address: str | None = None,
    resources: Mapping[str, float] | str | None = None,
    ray_init: Mapping[str, Any] | None = None,
    events: SuiteEvents | None = None,
    formats: Iterable[str] = ("json", "csv", "md", "tex"),
    suite: str | None = None,
    baselines: str | Sequence[str] | None = "auto",
    compare: bool = True,
    compare_formats: Sequence[str] | None = None,
    poll_interval: float = 0.5,
) -> SuiteResult:
    """Run ``jobs`` into the run dir ``out_dir`` and write the reports. See the module doc."""
    from wmbench_core import reporting

    t_start = time.perf_counter()
    if retries < 0:
        raise UsageError(f"--retries must be >= 0, got {retries}")
    if len({j.id for j in jobs}) != len(jobs):
        raise UsageError("the plan holds the same (agent, preset, game, seed) job twice")
    events = events or SuiteEvents()
    store = ResultsStore(out_dir)
    store.prepare()
    format_list = reporting.validate_formats(formats)
    done = check_resumable(out_dir, jobs, resume)
    todo = [j for j in jobs if j.id not in done]
    kind = executor if isinstance(executor, str) else executor.name
    for device in dict.fromkeys(j.device for j in todo):
        check_device(device, kind)

    if isinstance(executor, str):
        executor = make_executor(executor, store.out_dir, workers=workers, factories=factories,
                                 on_progress=events.progress, address=address,
                                 resources=resources, ray_init=ray_init)  # fmt: skip
    result = SuiteResult(document={}, planned=[j.id for j in jobs], skipped=sorted(done))
    running_file = RunningFile(store.out_dir, len(todo))
    pending: deque[Job] = deque(todo)
    attempts: Counter[str] = Counter()
    errors: dict[str, list[str]] = defaultdict(list)
    isolate: set[str] = set()  # jobs that must run alone (a pool broke while they ran)
    started_at: dict[str, float] = {}

    def progress(job_id: str, steps: int, total: int) -> None:
        events.progress(job_id, steps, total)
        if job_id in running_file.running:
            running_file.running[job_id].update(env_steps=steps, total_env_steps=total, steps_unix=time.time())
            running_file.write(force=False)

    executor.on_progress = progress

    def submit_ready() -> None:
        submitted = False
        while pending and executor.in_flight < executor.slots:
            job = pending[0]
            alone_running = any(jid in isolate for jid in running_file.running)
            if alone_running or (job.id in isolate and executor.in_flight):
                break
            pending.popleft()
            attempts[job.id] += 1
            started_at[job.id] = time.time()
            executor.submit(job)
            running_file.running[job.id] = {
                "job_id": job.id, "attempt": attempts[job.id], "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "started_unix": started_at[job.id],
            }  # fmt: skip
            events.started(job, attempts[job.id])
            submitted = True
        if submitted:
            running_file.pending = len(pending)
            running_file.write()

    with executor:
        _write_manifest(store.out_dir, jobs, executor, suite, retries)
        running_file.write()
        try:
            while pending or executor.in_flight:
                submit_ready()
                finished = []
                for outcome in executor.wait(timeout=poll_interval):
                    running_file.running.pop(outcome.job.id, None)
                    record = _settle(outcome, pending, attempts, errors, isolate, started_at, retries,
                                     executor, suite, events, result)  # fmt: skip
                    if record is not None:
                        finished.append(record)
                if finished:
                    submit_ready()  # refill the free slots first: the store writes overlap with jobs
                    for record in finished:
                        store.append(record)
                        (result.ok if record.get("status") == "ok" else result.failed).append(record["job_id"])
                        events.finished(record)
                running_file.pending = len(pending)
                running_file.write(force=bool(finished))
        finally:
            running_file.running.clear()
            running_file.write(finished=not pending)
    result.pool_restarts = int(getattr(executor, "pool_restarts", 0))
    result.document = store.write_document()
    written = reporting.export(result.document, store.out_dir, [f for f in format_list if f != "json"])
    result.reports = [str(store.document_path), *map(str, written)]
    if compare:
        result.reports += write_comparison(store.out_dir, baselines, compare_formats)
    result.wall_time = time.perf_counter() - t_start
    return result


def _refuse_second_driver(out_dir: Path) -> None:
    """Two drivers (suites or runs) appending to one run dir would run every job twice."""
    import json

    try:
        state = json.loads((out_dir / RUNNING_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return
    pid = int(state.get("pid") or 0)
    if (not state.get("finished") and state.get("host") == socket.gethostname() and pid
            and pid != os.getpid() and _pid_alive(pid)):  # fmt: skip
        raise UsageError(
            f"a wmbench suite or run is already running in {str(out_dir)!r} (driver pid {pid}); "
            f"watch it with `wmbench status {out_dir}` or stop it first"
        )


def _settle(
    outcome: Outcome, pending: deque[Job], attempts: Counter[str], errors: dict[str, list[str]],
    isolate: set[str], started_at: dict[str, float], retries: int, executor: Executor,
    suite: str | None, events: SuiteEvents, result: SuiteResult,
) -> dict[str, Any] | None:  # fmt: skip
    """The record to store for a job that ended, or None when it was queued again."""
    job = outcome.job
    wall = time.time() - started_at.get(job.id, time.time())
    if outcome.crash is not None and outcome.ambiguous:
        # Not charged: it may be an innocent neighbour of the job that killed the pool.
        attempts[job.id] -= 1
        isolate.add(job.id)
        pending.appendleft(job)
        events.retrying(job, outcome.crash, attempts[job.id] + 1, charged=False)
        return None
    record = outcome.record
    if record is None:
        record = crash_record(job, outcome.crash or "lost", started_at.get(job.id, time.time()), wall)
    if record.get("status") != "ok" and attempts[job.id] <= retries:
        errors[job.id].append(str(record.get("error")))
        result.retries += 1
        pending.appendleft(job)  # at the front: it resumes from its checkpoint right away
        events.retrying(job, str(record.get("error")), attempts[job.id] + 1, charged=True)
        return None
    isolate.discard(job.id)
    record["attempts"] = attempts[job.id]
    if errors[job.id]:
        record["retried_errors"] = errors[job.id]
    record["executor"] = executor.name
    if suite:
        record["suite"] = suite
    return record


def _write_manifest(out_dir: Path, jobs: Sequence[Job], executor: Executor, suite: str | None,
                    retries: int) -> None:  # fmt: skip
    from wmbench_core import __version__

    manifest = {
        "format": "wmbench-suite/1", "suite": suite, "wmbench_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": socket.gethostname(),
        "pid": os.getpid(), "executor": executor.describe(), "slots": executor.slots,
        "retries": retries, "plan_options": _plan_fingerprint(jobs[0]) if jobs else {},
        "agents": sorted({j.agent for j in jobs}), "games": list(dict.fromkeys(j.game for j in jobs)),
        "seeds": sorted({j.seed for j in jobs}), "jobs": [j.id for j in jobs],
    }  # fmt: skip
    previous = load_manifest(out_dir)
    if previous:
        # A resumed suite may run a subset (--games): the run dir's plan is the union.
        manifest["jobs"] = list(dict.fromkeys([*previous.get("jobs", []), *manifest["jobs"]]))
        manifest["first_created"] = previous.get("first_created", previous.get("created"))
    atomic_write_text(out_dir / SUITE_FILE, dumps(manifest, indent=1))


def write_comparison(
    out_dir: str | Path, baselines: str | Sequence[str] | None = "auto", formats: Sequence[str] | None = None
) -> list[str]:
    """The human-normalised comparison of the run dir (``compare.{md,tex,csv,json,html}``,
    figures when matplotlib is there) against published ``baselines`` ("auto": those of the
    run's agents, e.g. iris, diamond, dreamerv3 and dreamerv3_2024; None or "none": no baselines), when the
    statistics module (``wmbench_core.compare``) is installed and every game has human/random
    reference scores (so not for ``catch``). Returns the files written; never fails the suite:
    an error is written to ``compare_error.txt`` instead."""
    try:
        from wmbench_core import compare, normalization
    except ImportError:
        return []
    out = Path(out_dir)
    records = [r for r in run_dir_records(out) if r.get("status") == "ok" and r.get("episode_returns")]
    games = {r["game"] for r in records}
    if not games or not all(normalization.has_reference(g) for g in games):
        return []
    try:
        if baselines in (None, "none", ""):
            names: list[str] = []
        elif baselines == "auto":
            from wmbench_core.baselines import baseline_names

            agents = {str(r["agent"]).lower() for r in records}
            # dreamerv3 also gets dreamerv3_2024: the released code's runs, with training curves
            names = [n for n in baseline_names() if n in agents or n.split("_")[0] in agents]
        else:
            names = compare.parse_baselines(baselines)
        document = compare.build_comparison([out], names, scores="hns")
        if formats is None:
            formats = ["md", "tex", "csv", "json", "html"]
            try:
                import matplotlib  # noqa: F401

                formats.append("png")
            except ImportError:
                pass
        return [str(p) for p in compare.write_comparison(document, out, list(formats))]
    except Exception:  # noqa: BLE001 - a report is never worth the results
        path = out / "compare_error.txt"
        path.write_text(traceback.format_exc())
        return [str(path)]


# -- status (reads files only: safe while a suite runs elsewhere) -------------------------------
@dataclass
class SuiteStatus:
    out_dir: str
    planned: list[str]
    records: dict[str, dict[str, Any]]  # job id -> latest record
    running: list[dict[str, Any]]
    running_updated: str | None
    driver_alive: bool | None  # None: unknown (another host)
    manifest: dict[str, Any] | None
    driver_pid: int | None = None

    @property
    def ok(self) -> list[str]:
        return [j for j, r in self.records.items() if r.get("status") == "ok"]

    @property
    def failed(self) -> list[str]:
        return [j for j, r in self.records.items() if r.get("status") != "ok"]

    @property
    def remaining(self) -> list[str]:
        ok = set(self.ok)
        return [j for j in self.planned if j not in ok]

    def eta_seconds(self) -> float | None:
        """Remaining jobs x mean wall time of a job / jobs run at once: the finished jobs' wall
        time or, before one has finished (an Atari 100k job takes days), the projection of the
        jobs in flight (:meth:`eta_basis` says which)."""
        walls = self._finished_walls() or self._projected_walls()
        if not walls or not self.remaining:
            return None
        slots = max(1, int((self.manifest or {}).get("slots") or 1))
        return len(self.remaining) * (sum(walls) / len(walls)) / slots

    def eta_basis(self) -> str | None:
        """What :meth:`eta_seconds` rests on: "finished jobs", "jobs in flight" or None."""
        if self.eta_seconds() is None:
            return None
        return "finished jobs" if self._finished_walls() else "jobs in flight"

    def _finished_walls(self) -> list[float]:
        return [r["wall_time"] for r in self.records.values() if r.get("status") == "ok" and r.get("wall_time")]

    def _projected_walls(self) -> list[float]:
        walls = []
        for r in self.running:
            start, at = r.get("started_unix"), r.get("steps_unix")
            wall = projected_wall(at - start, r.get("env_steps"), r.get("total_env_steps")) if start and at else None
            if wall is not None:
                walls.append(wall)
        return walls

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir, "planned": len(self.planned), "ok": len(self.ok),
            "failed": {j: self.records[j].get("error") for j in self.failed},
            "remaining": len(self.remaining), "running": self.running,
            "running_updated": self.running_updated, "driver_alive": self.driver_alive,
            "eta_seconds": self.eta_seconds(), "eta_basis": self.eta_basis(),
        }  # fmt: skip


def projected_wall(elapsed: float, env_steps: int | None, total_env_steps: int | None) -> float | None:
    """A job in flight's whole wall time: ``elapsed`` / the fraction of its env steps done, once
    past :data:`PROJECTION_MIN_FRACTION` of them (before, the fast random prefill of most agents
    would make the projection far too short); None before or without a step count."""
    if not env_steps or not total_env_steps or elapsed <= 0:
        return None
    if env_steps / total_env_steps < PROJECTION_MIN_FRACTION:
        return None
    return elapsed * total_env_steps / env_steps


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def training_progress(work_dir: Path, last: int = 10) -> dict[str, Any]:
    """``{"train_episodes", "last_episode_env_step", "recent_return"}`` of a job in flight, from
    its ``train_episodes.csv`` (recent_return: mean of the last ``last`` episodes); {} if none."""
    from wmbench_core.envs.episode_log import TRAIN_EPISODES_FILE, read_rows

    try:
        rows = read_rows(work_dir / TRAIN_EPISODES_FILE)
    except OSError:
        return {}
    if not rows:
        return {}
    recent = [r[1] for r in rows[-last:]]
    return {"train_episodes": len(rows), "last_episode_env_step": rows[-1][0],
            "recent_return": sum(recent) / len(recent)}  # fmt: skip


def suite_status(out_dir: str | Path) -> SuiteStatus:
    """Progress of a run dir from its files (``runs.jsonl``, ``suite.json``,
    ``suite_running.json``); never writes, so it is safe while a suite is running."""
    import json

    out = Path(out_dir)
    manifest = load_manifest(out)
    # a run whose first job is still training has only suite_running.json so far
    if manifest is None and not any((out / f).is_file() for f in (RUNS_FILE, DOCUMENT_FILE, RUNNING_FILE)):
        raise FileNotFoundError(f"{str(out)!r} is not a wmbench run dir (no runs.jsonl or {SUITE_FILE})")
    records = {r["job_id"]: r for r in run_dir_records(out)}
    planned = list((manifest or {}).get("jobs") or records)
    planned += [j for j in records if j not in set(planned)]
    running: list[dict[str, Any]] = []
    updated = None
    alive: bool | None = None
    try:
        state = json.loads((out / RUNNING_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        state = None
    if state:
        updated = state.get("updated")
        if state.get("host") == socket.gethostname() and state.get("pid"):
            alive = _pid_alive(int(state["pid"])) and not state.get("finished")
        if alive is not False:
            running = [r for r in state.get("running", []) if r.get("job_id") not in {
                j for j, rec in records.items() if rec.get("status") == "ok"}]  # fmt: skip
    planned += [r["job_id"] for r in running if r.get("job_id") and r["job_id"] not in set(planned)]
    for r in running:  # how training goes, from the job's learning curve (when its dir is here)
        r.update(training_progress(out / "jobs" / job_dirname(str(r.get("job_id")))))
    pid = state.get("pid") if state else None
    return SuiteStatus(str(out), planned, records, running, updated, alive, manifest, pid)
