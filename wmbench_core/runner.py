"""The benchmark runner: (agent, preset, game, seed) jobs -> train or load -> evaluate -> records.

A job is a small picklable :class:`Job`; :func:`execute_job` runs one anywhere (this process, a
worker process, a Ray task) and returns its record, never raising for a failure of the agent:
exceptions and non-finite returns become ``status: "failed"`` records with the error. The
driver alone appends records to the :class:`~wmbench_core.results.ResultsStore`.

Python API (kept from the earlier harness)::

    runner = BenchmarkRunner(agent="random", out_dir="results/bench")
    res = runner.run(env_spec={"game": "ALE/Pong-v5"}, seeds=[0, 1], num_episodes=5)
    res["aggregate"]["per_seed_means"]

Job ids and work dirs name the resolved preset (``--preset`` left out = the agent's default
preset), so one (agent, preset, game, seed) job has one id however it was asked for. A job's work
dir holds ``job.json``, the settings it trains with (written before training), next to the
agent's periodic ``checkpoint.pt``: a checkpoint continues only a job with the same settings, and
``train_episodes.csv``, the learning curve (:mod:`wmbench_core.envs.episode_log`), which the
job's record also carries as ``train_episodes``.
"""

from __future__ import annotations

import json
import math
import platform
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wmbench_core.agent import CheckpointError, Progress
from wmbench_core.envs import EnvSpec, make_env_spec
from wmbench_core.envs.episode_log import TRAIN_EPISODES_FILE, EpisodeLog, read_episode_log
from wmbench_core.results import ResultsStore, dumps, job_id

CHECKPOINT_FILE = "checkpoint.pt"
JOB_FILE = "job.json"
#: Job fields that decide what a job trains: its checkpoint continues only a job with the same.
TRAINING_KEYS = ("agent", "preset", "game", "seed", "train_steps", "overrides", "protocol")


@dataclass(frozen=True)
class Job:
    agent: str
    game: str  # canonical name (resolve_game)
    seed: int
    episodes: int
    preset: str | None = None  # plan_jobs/plan_suite resolve None to the agent's default preset
    train_steps: int | None = None  # None: the agent's default (the protocol budget)
    checkpoint: str | None = None  # evaluate this checkpoint instead of training
    overrides: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    protocol: dict[str, Any] | None = None  # None: atari100k
    eval_envs: int = 8
    checkpoint_every: int = 0  # env steps between periodic checkpoints in the job's work dir

    @property
    def id(self) -> str:
        return job_id(self.agent, self.preset, self.game, self.seed)

    @property
    def dirname(self) -> str:
        return job_dirname(self.id)

    def env_spec(self) -> EnvSpec:
        from wmbench_core.envs.protocol import Protocol

        protocol = Protocol(**self.protocol) if self.protocol else "atari100k"
        return make_env_spec(self.game, protocol)

    def resolved_protocol(self) -> dict[str, Any] | None:
        """The protocol as recorded (``None`` means atari100k, which records its fields)."""
        try:
            return self.env_spec().protocol.to_dict()
        except Exception:  # noqa: BLE001 - an unknown game fails the job itself, not a comparison
            return self.protocol


def job_dirname(job_id: str) -> str:
    """The name of a job's work dir under ``jobs/`` (its id, made safe for a path)."""
    return job_id.replace("|", "-").replace("/", "_")


def resolve_preset(agent: str, preset: str | None) -> str | None:
    """``preset``, or the installed agent's default preset when it is None (agents that are not
    installed plugins, e.g. passed as a class, keep None: they resolve it themselves)."""
    if preset is not None:
        return preset
    from wmbench_core.plugins import get_registry

    entry = get_registry().agents.get(agent.lower())
    return entry[0].default_preset if entry else None


def training_settings(job: Job) -> dict[str, Any]:
    """What ``job`` trains with (:data:`TRAINING_KEYS`), as JSON gives it back."""
    settings = {k: getattr(job, k) for k in TRAINING_KEYS}
    settings["protocol"] = job.resolved_protocol()
    return json.loads(dumps(settings))


_UNSET = object()


def describe_differences(before: Mapping[str, Any], now: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
    """``["episodes=4 (now 50)", "overrides.batch_size=16 (now 8)"]`` for the ``keys`` that
    ``before`` holds and that differ (dicts: only their differing entries)."""

    def show(value: Any) -> str:
        return "unset" if value is _UNSET else repr(value)

    out = []
    for key in keys:
        if key not in before or before[key] == now.get(key):
            continue
        was, new = before[key], now.get(key)
        if isinstance(was, dict) and isinstance(new, dict):
            for sub in dict.fromkeys([*was, *new]):
                a, b = was.get(sub, _UNSET), new.get(sub, _UNSET)
                if a != b:
                    out.append(f"{key}.{sub}={show(a)} (now {show(b)})")
        else:
            out.append(f"{key}={show(was)} (now {show(new)})")
    return out


def job_work_dir(job: Job, out_dir: str | Path) -> Path:
    """``job``'s work dir in the run dir ``out_dir`` (loss curves, ``job.json``, checkpoints)."""
    return Path(out_dir) / "jobs" / job.dirname


def job_checkpoint(job: Job, out_dir: str | Path) -> Path:
    """Where ``job`` keeps its periodic checkpoint in the run dir ``out_dir``."""
    return job_work_dir(job, out_dir) / CHECKPOINT_FILE


def checkpoint_conflict(job: Job, out_dir: str | Path, config: Mapping[str, Any] | None = None) -> str | None:
    """Why ``job`` must not continue the checkpoint in its work dir (None: there is none, or it
    was made with the same settings: those of ``job`` and, when given, the agent's resolved
    ``config``). A checkpoint of other settings would silently give a run that matches neither."""
    path = job_checkpoint(job, out_dir)
    if job.checkpoint or not path.is_file():
        return None
    try:
        saved = json.loads((path.parent / JOB_FILE).read_text())
    except (OSError, ValueError):
        return (f"job {job.id}'s checkpoint {str(path)!r} has no record of its settings (made by an "
                "older wmbench); delete it to start the job afresh, or use another --out-dir")  # fmt: skip
    diff = describe_differences(saved.get("settings", {}), training_settings(job), TRAINING_KEYS)
    if not diff and config is not None and "config" in saved:
        diff = describe_differences({"config": saved["config"]}, {"config": json.loads(dumps(config))}, ["config"])
    if not diff:
        return None
    return (f"job {job.id}'s checkpoint {str(path)!r} was started with other settings: {', '.join(diff)}; "
            "use the same settings or another --out-dir")  # fmt: skip


def _write_job_settings(work_dir: Path, job: Job, config: Mapping[str, Any]) -> None:
    from wmbench_core.results import atomic_write_text

    data = {"format": "wmbench-job/1", "job_id": job.id, "settings": training_settings(job), "config": config}
    atomic_write_text(work_dir / JOB_FILE, dumps(data, indent=1))


def record_job_id(record: Mapping[str, Any]) -> str:
    """A record's job id with its resolved preset: a record written before job ids named the
    resolved preset (``dreamerv3|default|...`` for ``dreamerv3|atari100k|...``) is the same job."""
    try:
        return job_id(record["agent"], record.get("preset"), record["game"], int(record["seed"]))
    except (KeyError, TypeError, ValueError):
        return record["job_id"]


def job_records(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The latest record of each job of the run dir ``out_dir``, by (resolved) job id."""
    return {record_job_id(r): r for r in ResultsStore(out_dir).records()}


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("wmbench", "torch", "numpy", "gymnasium", "ale-py"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def build_agent(
    job: Job, work_dir: Path | None, registry: Any = None, factory: Any = None, env: EnvSpec | None = None
) -> Any:
    """Instantiate the job's agent (the spec's lazy factory is imported here) on ``env``
    (default: the job's env spec)."""
    if factory is None:
        from wmbench_core.plugins import get_registry

        spec, _ = (registry or get_registry()).agent(job.agent)
        factory = spec.load_factory()
    device = job.device
    if device != "cpu":
        from wmbench_core.learning.device import resolve_device

        device = resolve_device(device)
    return factory(
        env=env or job.env_spec(), preset=job.preset, device=device, seed=job.seed, work_dir=work_dir,
        **job.overrides,
    )  # fmt: skip


class ProgressWithReturn(Progress):
    """An agent's progress, with the mean return of its latest training episodes put first:
    every agent's bar shows how it is learning, from the core's episode log."""

    def __init__(self, inner: Progress, log: EpisodeLog) -> None:
        self.inner, self.episodes = inner, log

    def start(self, total_env_steps: int, description: str = "") -> None:
        self.inner.start(total_env_steps, description)

    def update(self, env_steps: int, metrics: dict[str, float] | None = None) -> None:
        recent = self.episodes.recent
        shown = {"return": sum(recent) / len(recent)} if recent else {}
        self.inner.update(env_steps, {**shown, **(metrics or {})})

    def log(self, message: str) -> None:
        self.inner.log(message)

    def stop(self) -> None:
        self.inner.stop()


def execute_job(
    job: Job,
    out_dir: str | Path,
    progress: Progress | None = None,
    factory: Callable[..., Any] | None = None,
    on_episode: Callable[[float, int], None] | None = None,
) -> dict[str, Any]:
    """Run one job to a record. Continues ``jobs/<job>/checkpoint.pt`` when present and made with
    the job's settings (:func:`checkpoint_conflict`; the drivers refuse other cases up front)."""
    from wmbench_core import __version__
    from wmbench_core.learning.allocator import tune_malloc

    tune_malloc()
    work_dir = job_work_dir(job, out_dir)
    record: dict[str, Any] = {
        "job_id": job.id, "agent": job.agent, "preset": job.preset, "game": job.game,
        "seed": job.seed, "episodes": job.episodes, "train_steps": job.train_steps,
        "checkpoint": job.checkpoint, "device": job.device, "overrides": job.overrides,
        "eval_envs": job.eval_envs, "wmbench_version": __version__, "versions": package_versions(),
        "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "work_dir": str(work_dir),
    }  # fmt: skip
    episodes_path = work_dir / TRAIN_EPISODES_FILE
    t0 = time.perf_counter()
    try:
        env = job.env_spec()
        record["env_id"] = f"ALE/{env.game}-v5" if env.is_atari else env.game
        record["protocol"] = env.protocol.to_dict()
        if factory is None:
            from wmbench_core.plugins import get_registry

            spec, info = get_registry().agent(job.agent)
            record["plugin"], record["plugin_version"] = info.distribution, info.version
        # every training env the agent makes logs its episodes: the job's learning curve
        episode_log = EpisodeLog(episodes_path)
        agent = build_agent(job, work_dir, factory=factory, env=env.recording_episodes(episode_log))
        record["preset"] = agent.preset
        record["device"] = str(agent.device)  # resolved ("auto" -> "cpu" / "cuda")
        agent.checkpoint_every = job.checkpoint_every
        if job.checkpoint:
            agent.load_checkpoint(job.checkpoint)
            train_steps = agent.env_steps_trained
        else:
            train_steps = agent.default_train_steps() if job.train_steps is None else job.train_steps
            resume_from = job_checkpoint(job, out_dir)
            if resume_from.is_file():
                conflict = checkpoint_conflict(job, out_dir, agent.config)
                if conflict:
                    raise CheckpointError(conflict)
                agent.load_checkpoint(resume_from)
                record["resumed_from_env_step"] = agent.env_steps_trained
            if train_steps > agent.env_steps_trained:
                work_dir.mkdir(parents=True, exist_ok=True)
                _write_job_settings(work_dir, job, agent.config)
                episode_log.start(agent.env_steps_trained)
                shown = progress if progress is None else ProgressWithReturn(progress, episode_log)
                record["train_summary"] = agent.train(train_steps, shown) or {}
            agent.env_steps_trained = max(agent.env_steps_trained, train_steps)
        t1 = time.perf_counter()
        record["train_time"] = t1 - t0
        record["config"] = dict(agent.config)
        result = agent.evaluate(job.episodes, num_envs=job.eval_envs, on_episode=on_episode)
        returns = [float(x) for x in result["episode_returns"]]
        if not all(math.isfinite(x) for x in returns):
            raise FloatingPointError(f"non-finite episode return in {returns}")
        record.update(
            episode_returns=returns,
            episode_lengths=[int(x) for x in result["episode_lengths"]],
            mean_return=sum(returns) / len(returns),
            env_steps_trained=int(agent.env_steps_trained),
            eval_time=time.perf_counter() - t1,
            status="ok",
        )
    except Exception as exc:  # noqa: BLE001 - a failed job is a record, not a crash
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
    try:  # also for a failed job: the curve up to the failure
        curve = None if job.checkpoint else read_episode_log(episodes_path)
    except OSError:  # an unreadable curve never costs the job its record
        curve = None
    if curve is not None:
        record["train_episodes"] = curve
    record["wall_time"] = time.perf_counter() - t0
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return record


def plan_jobs(
    agents: Sequence[str],
    games: Sequence[str],
    seeds: Sequence[int],
    episodes: int,
    *,
    preset: str | None = None,
    resolve_presets: bool = True,
    **job_kwargs: Any,
) -> list[Job]:
    """Every (agent, game, seed) job, agent-major. ``preset`` None: each installed agent's
    default preset, named in the job ids (``resolve_presets=False`` keeps None)."""
    if episodes < 1:
        raise ValueError(f"--episodes must be a positive integer, got {episodes}")
    presets = {a: resolve_preset(a, preset) if resolve_presets else preset for a in agents}
    return [
        Job(agent=a, game=g, seed=s, episodes=episodes, preset=presets[a], **job_kwargs)
        for a in agents for g in games for s in seeds
    ]  # fmt: skip


class BenchmarkRunner:
    """Run jobs in this process and keep every finished one (earlier harness API)."""

    def __init__(
        self,
        agent: str | None = None,
        out_dir: str | Path = "results/bench",
        *,
        adapter_cls: Callable[..., Any] | None = None,
        preset: str | None = None,
        device: str = "cpu",
        config: dict[str, Any] | None = None,
        train_steps: int | None = None,
        checkpoint: str | None = None,
        formats: Iterable[str] = ("json", "csv", "md", "tex"),
        resume: bool = False,
        eval_envs: int = 8,
        checkpoint_every: int = 0,
    ) -> None:
        if agent is None and adapter_cls is None:
            raise ValueError("give agent='name' or adapter_cls=AgentClass")
        self.agent = agent or getattr(adapter_cls, "name", adapter_cls.__name__).lower()
        self.factory = adapter_cls
        self.store = ResultsStore(out_dir)
        self.job_kwargs = dict(
            preset=preset, device=device, overrides=dict(config or {}), train_steps=train_steps,
            checkpoint=checkpoint, eval_envs=eval_envs, checkpoint_every=checkpoint_every,
        )  # fmt: skip
        self.formats = list(formats)
        self.resume = resume

    def run(
        self,
        env_spec: dict[str, Any] | str | EnvSpec,
        seeds: Sequence[int] = (0,),
        num_episodes: int = 5,
        progress: Progress | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        if isinstance(env_spec, EnvSpec):
            game = env_spec.game
            protocol = env_spec.protocol.to_dict()
        else:
            game_name = env_spec if isinstance(env_spec, str) else env_spec["game"]
            extra = {} if isinstance(env_spec, str) else {k: v for k, v in env_spec.items() if k != "game"}
            spec = make_env_spec(game_name, **extra)
            game, protocol = spec.game, spec.protocol.to_dict()
        jobs = plan_jobs([self.agent], [game], list(seeds), num_episodes, protocol=protocol,
                         resolve_presets=self.factory is None, **self.job_kwargs)  # fmt: skip
        return self.run_jobs(jobs, progress=progress, on_record=on_record)

    def run_jobs(
        self,
        jobs: Sequence[Job],
        progress: Progress | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        on_job_start: Callable[[Job], None] | None = None,
    ) -> dict[str, Any]:
        """Run ``jobs`` into the run dir. Refuses (UsageError) what ``wmbench suite`` refuses: a
        dir another driver is running in, finished jobs or partial checkpoints without
        ``resume``, and resuming work made with other settings."""
        from wmbench_core import reporting
        from wmbench_core.executors import check_device
        from wmbench_core.suite import RunningFile, check_resumable

        self.store.prepare()
        reporting.validate_formats(self.formats)
        for device in dict.fromkeys(j.device for j in jobs):
            check_device(device)
        done = check_resumable(self.store.out_dir, jobs, self.resume)
        todo = [j for j in jobs if j.id not in done]
        # The suite's marker: `wmbench status` shows this run, and a second driver is refused.
        running = RunningFile(self.store.out_dir, len(todo))
        try:
            for i, job in enumerate(todo):
                running.running = {job.id: {"job_id": job.id, "attempt": 1,
                                            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}}  # fmt: skip
                running.pending = len(todo) - i - 1
                running.write()
                if on_job_start is not None:
                    on_job_start(job)
                record = execute_job(job, self.store.out_dir, progress, factory=self.factory)
                self.store.append(record)
                if on_record is not None:
                    on_record(record)
        finally:
            running.running.clear()
            running.write(finished=True)
        document = self.store.write_document()
        reporting.export(document, self.store.out_dir, [f for f in self.formats if f != "json"])
        return document


def job_to_dict(job: Job) -> dict[str, Any]:
    return asdict(job)
