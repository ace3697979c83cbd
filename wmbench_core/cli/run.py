"""``wmbench run`` and ``wmbench report``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from wmbench_core.cli.errors import exit_interrupted, fail, friendly_errors, refuse_together
from wmbench_core.cli.validation import check_agents_accept, check_at_least, resolve_agent_names
from wmbench_core.parsing import UsageError, parse_list, parse_overrides, parse_seeds
from wmbench_core.plugins import get_registry

DEFAULT_FORMATS = "json,csv,md,tex"
DEVICE_HELP = "Where agents train and evaluate: auto (cuda, else mps, else cpu), cpu, cuda or mps."


class FormatsOption(click.Option):
    """``--format``: its help lists the installed exporters (plugins add formats), looked up only
    when the help is shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        try:
            names = ", ".join(sorted(get_registry().exporters))
        except Exception:  # noqa: BLE001 - help must show even if a plugin is broken
            names = DEFAULT_FORMATS.replace(",", ", ")
        self.help = f"Comma-separated output formats; valid: {names}."
        return super().get_help_record(ctx)


def format_option(default: str = DEFAULT_FORMATS) -> Callable[[Any], Any]:
    return click.option("--format", "formats", cls=FormatsOption, default=default, show_default=True)


@click.command("run")
@click.option("--agent", "agents", multiple=True, help="Agent name (repeatable). See list-agents.")
@click.option("--all-agents", is_flag=True, help="Every installed agent except random.")
@click.option("--game", required=True, help="Pong, ALE/Pong-v5, Pong-v5, pong ... or catch.")
@click.option("--seeds", default="1", show_default=True, help="Count (3 = 0,1,2), list (0,1) or range (0-4).")
@click.option("--episodes", default=10, show_default=True, type=int, help="Evaluation episodes per seed.")
@click.option("--preset", default=None, help="Agent preset (default: the agent's first).")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["auto", "cpu", "cuda", "mps"]),
              help=DEVICE_HELP)  # fmt: skip
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Evaluate this saved agent instead of training one (alternative to --train-steps).")  # fmt: skip
@click.option("--train-steps", type=int, default=None,
              help="Env steps to train (default: the preset's budget, 100000 for Atari 100k); "
                   "alternative to --checkpoint.")  # fmt: skip
@click.option("--out-dir", default="results/bench", show_default=True, type=click.Path(file_okay=False))
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override an agent config key (repeatable).")
@format_option()
@click.option("--resume", is_flag=True,
              help="Skip jobs already finished in --out-dir and continue half-trained ones from their "
                   "checkpoints (same options required). Without it, a dir holding finished or "
                   "half-trained jobs of this run is refused.")  # fmt: skip
@click.option("--eval-envs", default=8, show_default=True, type=int, help="Episodes played in parallel.")
@click.option("--checkpoint-every", default=0, show_default=True, type=int,
              help="Env steps between resumable checkpoints in the job's work dir (0: off).")  # fmt: skip
@friendly_errors
def run(
    agents: tuple[str, ...], all_agents: bool, game: str, seeds: str, episodes: int,
    preset: str | None, device: str, checkpoint: str | None, train_steps: int | None, out_dir: str,
    sets: tuple[str, ...], formats: str, resume: bool, eval_envs: int, checkpoint_every: int,
) -> None:  # fmt: skip
    """Train (or load a checkpoint) and evaluate agents on a game, one job per seed."""
    from wmbench_core import reporting
    from wmbench_core.envs import make_env_spec
    from wmbench_core.executors import check_device
    from wmbench_core.results import ResultsStore
    from wmbench_core.runner import BenchmarkRunner, plan_jobs
    from wmbench_core.suite import check_resumable

    registry = get_registry()
    # -- validate everything before any work is done ---------------------------------------
    refuse_together(agent=agents, all_agents=all_agents)
    refuse_together("evaluate a saved agent, or train one", checkpoint=checkpoint, train_steps=train_steps)
    agent_names = resolve_agent_names(registry, agents, all_agents)
    check_at_least(1, episodes=episodes, eval_envs=eval_envs)
    check_at_least(0, train_steps=train_steps, checkpoint_every=checkpoint_every)
    seed_list = parse_seeds(seeds)
    overrides = parse_overrides(sets)
    format_list = reporting.validate_formats(parse_list(formats, flag="--format"))
    if not format_list:
        raise UsageError(f"--format is empty; valid: {', '.join(sorted(registry.exporters))}")
    env = make_env_spec(game)
    check_agents_accept(registry, agent_names, preset, env, overrides)
    if not str(out_dir).strip():
        raise UsageError("--out-dir is empty; give a directory (default: results/bench)")
    if checkpoint is not None:
        if len(agent_names) != 1:
            raise UsageError("--checkpoint needs exactly one --agent")
        if len(seed_list) != 1:  # seeds would only vary the evaluation, yet count as training seeds
            raise UsageError(f"--checkpoint evaluates one trained agent: give one seed, not --seeds {seeds!r}")
        from wmbench_core.learning.checkpoint import load_checkpoint

        load_checkpoint(checkpoint, agent_names[0])  # refuses missing, corrupt or code-bearing files
    check_device(device)
    jobs = plan_jobs(
        agent_names, [env.game], seed_list, episodes, preset=preset, train_steps=train_steps,
        checkpoint=checkpoint, overrides=overrides, device=device, protocol=env.protocol.to_dict(),
        eval_envs=eval_envs, checkpoint_every=checkpoint_every,
    )  # fmt: skip
    store = ResultsStore(out_dir)
    store.prepare()
    # the suite's checks: another driver, finished or half-trained work, other options
    done = check_resumable(out_dir, jobs, resume)
    todo = [j for j in jobs if j.id not in done]
    console = Console(stderr=True)
    if resume and len(todo) < len(jobs):
        console.print(f"--resume: {len(jobs) - len(todo)} of {len(jobs)} jobs already finished, skipped")

    runner = BenchmarkRunner(agent=agent_names[0], out_dir=out_dir, formats=format_list, resume=resume)
    try:
        records = _run_with_display(runner, todo, console)
    except KeyboardInterrupt:
        exit_interrupted(out_dir)
    document = store.document() if not todo else records["document"]
    if not todo:
        from wmbench_core import reporting as rep

        document = store.write_document()
        rep.export(document, store.out_dir, [f for f in format_list if f != "json"])
    _print_summary(document, [j.id for j in jobs], console)
    console.print(f"results: {store.document_path}")
    failed = [r for r in document["runs"] if r["job_id"] in {j.id for j in jobs} and r.get("status") != "ok"]
    if failed:
        console.print(f"[red]{len(failed)} job(s) failed:[/red]")
        for r in failed:
            console.print(f"  {r['job_id']}: {r.get('error')}")
        sys.exit(1)


def _run_with_display(runner: Any, jobs: list, console: Console) -> dict[str, Any]:
    from wmbench_core.cli.display import RichTrainingProgress, make_bar

    if not jobs:
        return {"document": None}
    bar = make_bar(console)
    overall = bar.add_task("jobs", total=len(jobs), metrics="")
    state: dict[str, Any] = {}
    with bar:
        def on_start(job: Any) -> None:
            bar.update(overall, metrics=f"{job.agent} {job.game} seed {job.seed}")

        def on_record(record: dict[str, Any]) -> None:
            bar.advance(overall)
            status = "ok" if record["status"] == "ok" else f"[red]failed[/red] {record.get('error')}"
            mean = record.get("mean_return")
            mean_s = f"mean return {mean:.2f} " if mean is not None else ""
            bar.console.log(f"{record['job_id']}: {mean_s}{status} ({record['wall_time']:.1f}s){_training(record)}")

        progress = RichTrainingProgress(bar, "train")
        state["document"] = runner.run_jobs(jobs, progress=progress, on_record=on_record, on_job_start=on_start)
    return state


def _training(record: dict[str, Any]) -> str:
    """``; training return -0.58 -> 0.55 (571 episodes)``: the first and last 10% of its curve."""
    from wmbench_core.curves import record_curve, start_and_end_returns

    curve = record_curve(record)
    if curve is None:
        return ""
    first, last = start_and_end_returns(curve)
    shown = " -> ".join("–" if x is None else f"{x:.2f}" for x in (first, last))
    return f"; training return {shown} ({len(curve[0]):,} episodes)"


def _print_summary(document: dict[str, Any], job_ids: list[str], console: Console) -> None:
    groups = document["aggregate"].get("groups", [])
    if not groups:
        return
    table = Table(title="evaluation (raw returns)")
    for col in ("agent", "preset", "game", "seeds", "mean", "median", "IQM [95% CI]"):
        table.add_column(col)
    for g in groups:
        lo, hi = g["iqm_ci"]
        table.add_row(g["agent"], g["preset"], g["game"], str(len(g["seeds"])), f"{g['mean']:.2f}",
                      f"{g['median']:.2f}", f"{g['iqm']:.2f} [{lo:.2f}, {hi:.2f}]")  # fmt: skip
    Console().print(table)


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False))
@format_option()
@friendly_errors
def report(run_dir: str, formats: str) -> None:
    """Re-render a run dir's results from its runs.jsonl."""
    from wmbench_core import reporting
    from wmbench_core.results import ResultsStore

    if not (Path(run_dir) / "runs.jsonl").is_file():
        fail(f"{run_dir!r} holds no runs.jsonl (not a wmbench run dir)")
    format_list = reporting.validate_formats(parse_list(formats, flag="--format"))
    store = ResultsStore(run_dir)
    document = store.write_document()
    written = reporting.export(document, run_dir, [f for f in format_list if f != "json"])
    for path in [store.document_path, *written]:
        click.echo(str(path))
