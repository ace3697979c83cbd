"""``wmbench suite`` (run a whole suite on an executor) and ``wmbench status`` (a run dir's progress)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from wmbench_core.cli.errors import exit_interrupted, friendly_errors, refuse_together
from wmbench_core.cli.run import DEVICE_HELP, format_option
from wmbench_core.cli.validation import check_agents_accept, check_at_least, resolve_agent_names
from wmbench_core.parsing import UsageError, parse_list, parse_overrides, parse_seeds
from wmbench_core.runner import Job
from wmbench_core.suite import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_EPISODES,
    DEFAULT_RETRIES,
    SuiteEvents,
    projected_wall,
)


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = int(max(0, seconds))
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    return f"{d}d {h:02d}:{m:02d}:{s:02d}" if d else f"{h:d}:{m:02d}:{s:02d}"


class LiveOverview(SuiteEvents):
    """The suite's live overview: jobs done / running / failed, ETA, one line per finished job."""

    def __init__(self, console: Console, total: int, skipped: int, slots: int, title: str) -> None:
        self.console = console
        self.total = total  # jobs to run in this session
        self.skipped = skipped
        self.slots = max(1, slots)
        self.title = title
        self.ok = 0
        self.failed = 0
        self.retries = 0
        self.running: dict[str, dict[str, Any]] = {}
        self.t0 = time.monotonic()
        self.live: Live | None = None

    # SuiteEvents
    def started(self, job: Job, attempt: int) -> None:
        self.running[job.id] = {"t0": time.monotonic(), "attempt": attempt, "steps": None, "total": None}

    def progress(self, job_id: str, env_steps: int, total: int) -> None:
        if job_id in self.running:
            self.running[job_id].update(steps=env_steps, total=total)

    def finished(self, record: dict[str, Any]) -> None:
        self.running.pop(record["job_id"], None)
        tries = f" after {record['attempts']} attempts" if record.get("attempts", 1) > 1 else ""
        if record.get("status") == "ok":
            self.ok += 1
            mean = record.get("mean_return")
            self._log(f"[green]ok[/green] {record['job_id']}: mean return {mean:.2f} over "
                      f"{len(record.get('episode_returns', []))} episodes "
                      f"({_hms(record.get('wall_time'))}{tries})")  # fmt: skip
        else:
            self.failed += 1
            self._log(f"[red]failed[/red] {record['job_id']}{tries}: {record.get('error')}")

    def retrying(self, job: Job, error: str, attempt: int, charged: bool) -> None:
        self.running.pop(job.id, None)
        self.retries += 1
        why = "will retry" if charged else "was in flight when a worker died; re-running it alone"
        self._log(f"[yellow]retry[/yellow] {job.id} {why} (attempt {attempt}): {error}")

    def _log(self, message: str) -> None:
        (self.live.console if self.live else self.console).log(message)

    # display
    def eta(self) -> float | None:
        """From the finished jobs' pace or, before one has finished, projected from the jobs in
        flight (:func:`~wmbench_core.suite.projected_wall`, as ``wmbench status``)."""
        done = self.ok + self.failed
        remaining = self.total - done
        if remaining <= 0:
            return None
        if done:
            return (time.monotonic() - self.t0) / done * remaining
        now = time.monotonic()
        walls = [w for r in self.running.values() if (w := projected_wall(now - r["t0"], r["steps"], r["total"]))]
        if not walls:
            return None
        return remaining * (sum(walls) / len(walls)) / self.slots

    def __rich__(self) -> Group:
        done = self.ok + self.failed
        title = Text(self.title, style="bold")
        head = Text.assemble(
            f"done {done}/{self.total}  ", ("ok ", "green"), f"{self.ok}  ",
            ("failed ", "red"), f"{self.failed}  ", f"running {len(self.running)}  ",
            f"pending {max(0, self.total - done - len(self.running))}  ",
            f"retries {self.retries}  ",
            f"elapsed {_hms(time.monotonic() - self.t0)}  ETA {_hms(self.eta())}",
        )  # fmt: skip
        if self.skipped:
            head.append(f"  ({self.skipped} already finished, skipped)")
        parts: list[Any] = [title, head, ProgressBar(total=max(1, self.total), completed=done, width=60)]
        if self.running:
            table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
            for col in ("running job", "attempt", "env steps", "elapsed"):
                table.add_column(col)
            now = time.monotonic()
            for job_id, info in list(self.running.items())[:20]:
                steps = f"{info['steps']:,}/{info['total']:,}" if info["total"] else "-"
                table.add_row(job_id, str(info["attempt"]), steps, _hms(now - info["t0"]))
            if len(self.running) > 20:
                table.add_row(f"... and {len(self.running) - 20} more", "", "", "")
            parts.append(table)
        return Group(*parts)


@click.command("suite")
@click.argument("suite_name", metavar="SUITE")
@click.option("--agent", "agents", multiple=True, help="Agent name (repeatable). See list-agents.")
@click.option("--all-agents", is_flag=True, help="Every installed agent except random.")
@click.option("--seeds", default="5", show_default=True, help="Count (5 = 0..4), list (0,1) or range (0-4).")
@click.option("--games", "games", multiple=True, help="Subset of the suite's games (comma-separated or repeated).")
@click.option("--train-steps", type=int, default=None,
              help="Env steps to train (default: the preset's budget; Atari 100k: 100000).")  # fmt: skip
@click.option("--preset", default=None, help="Agent preset (default: the agent's first).")
@click.option("--episodes", default=DEFAULT_EPISODES, show_default=True, type=int,
              help="Final evaluation episodes per job (100: the DIAMOND/TWM protocol).")  # fmt: skip
@click.option("--executor", default="local", show_default=True, type=click.Choice(["local", "process", "ray"]),
              help="Where jobs run: local (this process, one at a time), process (a pool of worker "
                   "processes on this machine) or ray (tasks on a Ray cluster).")  # fmt: skip
@click.option("--workers", type=int, default=None,
              help="Jobs at once (process: default one per core; ray: what the cluster fits).")  # fmt: skip
@click.option("--address", default=None,
              help="Ray cluster to join: ray://HOST:10001, HOST:6379 or auto (default: start Ray here).")  # fmt: skip
@click.option("--resources", default=None, metavar="JSON",
              help="Ray resources per job, e.g. '{\"GPU\": 1}' or '{\"CPU\": 4, \"GPU\": 1}'.")  # fmt: skip
@click.option("--retries", default=DEFAULT_RETRIES, show_default=True, type=int,
              help="Extra attempts for a failed job (or a lost worker) before it is recorded failed.")  # fmt: skip
@click.option("--checkpoint-every", default=DEFAULT_CHECKPOINT_EVERY, show_default=True, type=int,
              help="Env steps between resumable checkpoints in the run dir (0: off).")  # fmt: skip
@click.option("--resume", is_flag=True,
              help="Skip jobs already finished in --out-dir; re-run failed and missing ones, continuing "
                   "half-trained ones from their checkpoints (same options required). Without it, a "
                   "dir holding finished or half-trained jobs of this plan is refused.")  # fmt: skip
@click.option("--out-dir", default=None, type=click.Path(file_okay=False), help="Run dir (default: results/SUITE).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override an agent config key (repeatable).")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "mps"]),
              help=DEVICE_HELP)  # fmt: skip
@click.option("--eval-envs", default=8, show_default=True, type=int, help="Evaluation episodes played in parallel.")
@format_option()
@click.option("--baselines", default="auto", show_default=True,
              help="Baselines in the final HNS comparison: auto (the suite's agents), none, all or names.")  # fmt: skip
@click.option("--compare/--no-compare", default=True, show_default=True,
              help="Write the human-normalised comparison (compare.md/.html/... and figures) at the end.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print the job plan (and what is already done); run nothing.")
@friendly_errors
def suite_command(
    suite_name: str, agents: tuple[str, ...], all_agents: bool, seeds: str, games: tuple[str, ...],
    train_steps: int | None, preset: str | None, episodes: int, executor: str, workers: int | None,
    address: str | None, resources: str | None, retries: int, checkpoint_every: int, resume: bool,
    out_dir: str | None, sets: tuple[str, ...], device: str, eval_envs: int, formats: str,
    baselines: str, compare: bool, dry_run: bool,
) -> None:  # fmt: skip
    """Run every (agent, game, seed) job of SUITE (atari100k, or catch for a quick check):
    train, then evaluate; each finished job lands in OUT_DIR/runs.jsonl at once.

    \b
    wmbench suite atari100k --agent iris --agent diamond --seeds 5
    wmbench suite atari100k --agent dreamerv3 --executor process --workers 2 --games Pong,Breakout
    wmbench suite atari100k --agent iris --executor ray --address auto --resources '{"GPU": 1}'
    """
    from wmbench_core import reporting
    from wmbench_core.executors import check_device, make_executor, parse_resources, ray_available
    from wmbench_core.plugins import get_registry
    from wmbench_core.results import ResultsStore
    from wmbench_core.suite import check_resumable, plan_suite, run_suite

    registry = get_registry()
    # -- validate everything before any work is done ---------------------------------------------
    refuse_together(agent=agents, all_agents=all_agents)
    agent_names = resolve_agent_names(registry, agents, all_agents)
    check_at_least(1, episodes=episodes, eval_envs=eval_envs, workers=workers)
    check_at_least(0, train_steps=train_steps, checkpoint_every=checkpoint_every, retries=retries)
    if parse_resources(resources).get("GPU", 0) > 0 and device == "cpu":
        raise UsageError("--resources gives each job a GPU but --device is cpu; add --device cuda (or auto)")
    if executor == "ray" and not ray_available():
        from wmbench_core.executors import RAY_MISSING

        raise UsageError(RAY_MISSING)
    seed_list = parse_seeds(seeds)
    overrides = parse_overrides(sets)
    format_list = reporting.validate_formats(parse_list(formats, flag="--format"))
    if baselines not in ("auto", "none"):
        try:
            from wmbench_core.compare import parse_baselines
        except ImportError:
            raise UsageError("--baselines needs the statistics module (wmbench_core.compare)") from None
        parse_baselines(baselines)  # unknown names: one line, before any work
    game_list = [g for text in games for g in parse_list(text, flag="--games")]
    jobs = plan_suite(
        suite_name, agent_names, seed_list, game_list, episodes, preset=preset,
        train_steps=train_steps, overrides=overrides, device=device, eval_envs=eval_envs,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    if jobs:  # presets and --set keys, checked on one real agent per name before any work
        check_agents_accept(registry, agent_names, preset, jobs[0].env_spec(), overrides)
    out = Path(out_dir or f"results/{suite_name.lower()}")
    console = Console(stderr=True, log_path=False)

    if dry_run:
        _print_plan(jobs, out, resume, Console())
        return
    check_device(device, executor)
    store = ResultsStore(out)
    store.prepare()
    # before the live display: a second driver, finished or half-trained work, other options
    done = check_resumable(out, jobs, resume)
    todo = [j for j in jobs if j.id not in done]
    ex = make_executor(executor, out, workers=workers, address=address, resources=resources)
    ex.start()  # connect/start Ray or the pool now, so the overview shows the real capacity
    title = f"{suite_name} | {ex.describe()}"
    overview = LiveOverview(console, len(todo), len(done), ex.slots, title)
    n_games = len({j.game for j in jobs})
    console.print(f"{len(jobs)} jobs ({len(agent_names)} agents x {n_games} games x {len(seed_list)} seeds), "
                  f"{len(done)} already finished; run dir {out}")  # fmt: skip
    try:
        with Live(overview, console=console, refresh_per_second=2, transient=False) as live:
            overview.live = live
            result = run_suite(jobs, out, ex, retries=retries, resume=resume, events=overview,
                               formats=format_list, suite=suite_name.lower(),
                               baselines=baselines, compare=compare)  # fmt: skip
    except KeyboardInterrupt:
        exit_interrupted(out)
    finally:
        ex.shutdown()
    _print_results(result.document, [j.id for j in jobs], Console())
    console.print(f"{len(result.ok)} ok, {len(result.failed)} failed, {result.retries} retries "
                  f"in {_hms(result.wall_time)}; reports:")  # fmt: skip
    for path in result.reports:
        console.print(f"  {path}")
    if result.failed:
        console.print(f"[red]{len(result.failed)} job(s) failed[/red] (see `wmbench status {out}`); "
                      "re-run them with --resume")  # fmt: skip
        sys.exit(1)


def _print_plan(jobs: list[Job], out: Path, resume: bool, console: Console) -> None:
    from wmbench_core.runner import job_records

    records = job_records(out)
    table = Table(title=f"job plan: {len(jobs)} jobs -> {out}")
    for col in ("#", "job", "train steps", "episodes", "state"):
        table.add_column(col)
    finished = 0
    for i, job in enumerate(jobs, 1):
        r = records.get(job.id)
        if r and r.get("status") == "ok":
            finished += 1
            state = "[green]done[/green] (skipped with --resume)" if resume else "[green]done[/green]"
        elif r:
            state = f"[red]failed[/red] before: {str(r.get('error'))[:60]}"
        else:
            state = "to run"
        steps = "default" if job.train_steps is None else f"{job.train_steps:,}"
        table.add_row(str(i), job.id, steps, str(job.episodes), state)
    console.print(table)
    console.print(f"{len(jobs)} jobs planned, {finished} already done, "
                  f"{len(jobs) - finished if resume else len(jobs)} would run"
                  + ("" if resume or not finished else " (add --resume to skip the done ones)"))  # fmt: skip


def _print_results(document: dict[str, Any], job_ids: list[str], console: Console) -> None:
    """Per game x agent mean return over seeds (raw scores)."""
    wanted = set(job_ids)
    groups = [g for g in document["aggregate"].get("groups", [])
              if any(f"{g['agent']}|{g['preset']}|{g['game']}|{s}" in wanted for s in g["seeds"])]  # fmt: skip
    if not groups:
        return
    columns = list(dict.fromkeys(f"{g['agent']}/{g['preset']}" for g in groups))
    games = list(dict.fromkeys(g["game"] for g in groups))
    cell = {(g["game"], f"{g['agent']}/{g['preset']}"): g for g in groups}
    table = Table(title="mean return over seeds (raw scores) [seeds]")
    table.add_column("game")
    for c in columns:
        table.add_column(c, justify="right")
    for game in games:
        row = [game]
        for c in columns:
            g = cell.get((game, c))
            row.append(f"{g['mean']:.1f} [{len(g['seeds'])}]" if g else "-")
        table.add_row(*row)
    console.print(table)


@click.command("status")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def status_command(run_dir: str, as_json: bool) -> None:
    """Progress and failures of a run dir (safe while a suite is running: reads files only)."""
    from wmbench_core.suite import suite_status

    st = suite_status(run_dir)
    if as_json:
        click.echo(json.dumps(st.to_dict(), indent=2, default=str))
        return
    console = Console(soft_wrap=True)  # long paths and errors stay on one line (greppable)
    manifest = st.manifest or {}
    title = f"{manifest.get('suite') or 'run'} in {run_dir}"
    if manifest.get("executor"):
        title += f" ({manifest['executor']})"
    console.print(f"[bold]{title}[/bold]")
    if st.driver_alive is True:
        state = f"running (driver pid {manifest.get('pid') or st.driver_pid or '?'}; updated {st.running_updated})"
    elif st.driver_alive is False:
        state = "not running" + (" - finish it with --resume" if st.remaining else "")
    else:
        state = f"driver on another host; last update {st.running_updated}" if st.running_updated else "unknown"
    projected = " (projected from the jobs in flight)" if st.eta_basis() == "jobs in flight" else ""
    console.print(
        f"jobs: {len(st.planned)} planned, [green]{len(st.ok)} ok[/green], "
        f"[red]{len(st.failed)} failed[/red], {len(st.running)} running, "
        f"{max(0, len(st.remaining) - len(st.failed) - len(st.running))} pending; "
        f"ETA {_hms(st.eta_seconds())}{projected}; state: {state}"
    )
    per_agent: dict[str, list[int]] = {}
    for job_id in st.planned:
        agent = job_id.split("|")[0] + "/" + job_id.split("|")[1]
        counts = per_agent.setdefault(agent, [0, 0, 0])
        rec = st.records.get(job_id)
        counts[2] += 1
        if rec and rec.get("status") == "ok":
            counts[0] += 1
        elif rec:
            counts[1] += 1
    if per_agent:
        table = Table(box=None)
        for col in ("agent/preset", "ok", "failed", "planned"):
            table.add_column(col, justify="right" if col != "agent/preset" else "left")
        for agent, (ok, failed, planned) in per_agent.items():
            table.add_row(agent, str(ok), str(failed), str(planned))
        console.print(table)
    if st.running:
        console.print("running:")
        for r in st.running:
            steps = f" {r['env_steps']:,}/{r['total_env_steps']:,} env steps" if r.get("total_env_steps") else ""
            console.print(f"  {r['job_id']} (attempt {r.get('attempt', 1)}, since {r.get('started')}){steps}")
            if r.get("train_episodes"):
                console.print(f"    {r['train_episodes']:,} training episodes, the last ending at env step "
                              f"{r['last_episode_env_step']:,}; mean return of the last "
                              f"{min(10, r['train_episodes'])}: {r['recent_return']:.4g}")  # fmt: skip
    if st.failed:
        console.print("[red]failed:[/red]")
        for job_id in st.failed:
            r = st.records[job_id]
            tries = f" after {r['attempts']} attempts" if r.get("attempts", 1) > 1 else ""
            console.print(f"  {job_id}{tries}: {r.get('error')}")
