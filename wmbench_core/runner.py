"""The benchmark runner: (agent, preset, game, seed) jobs -> train or load -> evaluate -> records.

A job is a small picklable :class:`Job`; :func:`execute_job` runs one anywhere (this process, a
worker process, a Ray task) and returns its record, never raising for a failure of the agent:
exceptions and non-finite returns become ``status: "failed"`` records with the error. The
driver alone appends records to the :class:`~wmbench_core.results.ResultsStore`.

Python API (kept from the earlier harness)::

    runner = BenchmarkRunner(agent="random", out_dir="results/bench")
    res = runner.run(env_spec={"game": "ALE/Pong-v5"}, seeds=[0, 1], num_episodes=5)
    res["aggregate"]["per_seed_means"]
"""

from __future__ import annotations

import math
import platform
import socket
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wmbench_core.agent import Progress
from wmbench_core.envs import EnvSpec, make_env_spec
from wmbench_core.results import ResultsStore, job_id


@dataclass(frozen=True)
class Job:
    agent: str
    game: str  # canonical name (resolve_game)
    seed: int
    episodes: int
    preset: str | None = None
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
        return self.id.replace("|", "-").replace("/", "_")

    def env_spec(self) -> EnvSpec:
        from wmbench_core.envs.protocol import Protocol

        protocol = Protocol(**self.protocol) if self.protocol else "atari100k"
        return make_env_spec(self.game, protocol)


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("wmbench", "torch", "numpy", "gymnasium", "ale-py"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def build_agent(job: Job, work_dir: Path | None, registry: Any = None, factory: Any = None) -> Any:
    """Instantiate the job's agent (the spec's lazy factory is imported here)."""
    if factory is None:
        from wmbench_core.plugins import get_registry

        spec, _ = (registry or get_registry()).agent(job.agent)
        factory = spec.load_factory()
    device = job.device
    if device != "cpu":
        from wmbench_core.learning.device import resolve_device

        device = resolve_device(device)
    return factory(
        env=job.env_spec(), preset=job.preset, device=device, seed=job.seed, work_dir=work_dir,
        **job.overrides,
    )  # fmt: skip


def execute_job(
    job: Job,
    out_dir: str | Path,
    progress: Progress | None = None,
    factory: Callable[..., Any] | None = None,
    on_episode: Callable[[float, int], None] | None = None,
) -> dict[str, Any]:
    """Run one job to a record. Resumes from ``jobs/<job>/checkpoint.pt`` when present."""
    from wmbench_core import __version__
    from wmbench_core.learning.allocator import tune_malloc

    tune_malloc()
    work_dir = Path(out_dir) / "jobs" / job.dirname
    record: dict[str, Any] = {
        "job_id": job.id, "agent": job.agent, "preset": job.preset, "game": job.game,
        "seed": job.seed, "episodes": job.episodes, "train_steps": job.train_steps,
        "checkpoint": job.checkpoint, "device": job.device, "overrides": job.overrides,
        "wmbench_version": __version__, "versions": package_versions(),
        "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "work_dir": str(work_dir),
    }  # fmt: skip
    t0 = time.perf_counter()
    try:
        env = job.env_spec()
        record["env_id"] = f"ALE/{env.game}-v5" if env.is_atari else env.game
        record["protocol"] = env.protocol.to_dict()
        if factory is None:
            from wmbench_core.plugins import get_registry

            spec, info = get_registry().agent(job.agent)
            record["plugin"], record["plugin_version"] = info.distribution, info.version
        agent = build_agent(job, work_dir, factory=factory)
        record["preset"] = agent.preset
        record["device"] = str(agent.device)  # resolved ("auto" -> "cpu" / "cuda")
        agent.checkpoint_every = job.checkpoint_every
        if job.checkpoint:
            agent.load_checkpoint(job.checkpoint)
            train_steps = agent.env_steps_trained
        else:
            train_steps = agent.default_train_steps() if job.train_steps is None else job.train_steps
            resume_from = work_dir / "checkpoint.pt"
            if resume_from.is_file():
                agent.load_checkpoint(resume_from)
                record["resumed_from_env_step"] = agent.env_steps_trained
            if train_steps > agent.env_steps_trained:
                work_dir.mkdir(parents=True, exist_ok=True)
                record["train_summary"] = agent.train(train_steps, progress) or {}
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
    record["wall_time"] = time.perf_counter() - t0
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return record


def plan_jobs(
    agents: Sequence[str],
    games: Sequence[str],
    seeds: Sequence[int],
    episodes: int,
    **job_kwargs: Any,
) -> list[Job]:
    if episodes < 1:
        raise ValueError(f"--episodes must be a positive integer, got {episodes}")
    return [
        Job(agent=a, game=g, seed=s, episodes=episodes, **job_kwargs)
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
        jobs = plan_jobs([self.agent], [game], list(seeds), num_episodes, protocol=protocol, **self.job_kwargs)
        return self.run_jobs(jobs, progress=progress, on_record=on_record)

    def run_jobs(
        self,
        jobs: Sequence[Job],
        progress: Progress | None = None,
        on_record: Callable[[dict[str, Any]], None] | None = None,
        on_job_start: Callable[[Job], None] | None = None,
    ) -> dict[str, Any]:
        from wmbench_core import reporting

        self.store.prepare()
        reporting.validate_formats(self.formats)
        done = self.store.finished_job_ids() if self.resume else set()
        for job in jobs:
            if job.id in done:
                continue
            if on_job_start is not None:
                on_job_start(job)
            record = execute_job(job, self.store.out_dir, progress, factory=self.factory)
            self.store.append(record)
            if on_record is not None:
                on_record(record)
        document = self.store.write_document()
        reporting.export(document, self.store.out_dir, [f for f in self.formats if f != "json"])
        return document


def job_to_dict(job: Job) -> dict[str, Any]:
    return asdict(job)
