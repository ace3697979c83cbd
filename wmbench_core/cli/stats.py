"""``wmbench baselines`` and ``wmbench compare``: published baselines and statistics."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from wmbench_core.cli.errors import friendly_errors
from wmbench_core.metrics import AGGREGATE_REPS, PROFILE_REPS

_METRICS = ("mean", "median", "iqm", "optimality_gap")


class _FormatOption(click.Option):
    """``--format`` whose help lists the formats of the installed exporter plugins too
    (discovered when help is shown, not when the CLI is imported)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from wmbench_core.compare import NATIVE_FORMATS
        from wmbench_core.plugins import get_registry

        extra = sorted(set(get_registry().exporters) - set(NATIVE_FORMATS))
        self.help = "Comma-separated formats: " + ", ".join([*NATIVE_FORMATS, *extra]) + "."
        return super().get_help_record(ctx)


@click.command("baselines")
@click.argument("names", nargs=-1)
@click.option("--ci", is_flag=True, help="Add stratified-bootstrap 95% CIs (slower for 100-run baselines).")
@click.option("--reps", default=AGGREGATE_REPS, show_default=True, type=int, help="Bootstrap resamples for --ci.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def baselines_command(names: tuple[str, ...], ci: bool, reps: int, seed: int, as_json: bool) -> None:
    """List the shipped published baselines with their recomputed HNS aggregates.

    NAMES (optional) restricts the list and adds each baseline's per-game scores. Where a
    paper states aggregates, they are shown next to the recomputed ones; a mismatch is flagged.
    """
    from wmbench_core.baselines import baseline_names, get_info, load_baseline
    from wmbench_core.metrics import interval_estimates

    if reps < 1:
        raise ValueError(f"--reps must be >= 1, got {reps}")
    selected = [get_info(n).name for n in names] or baseline_names()
    rows = []
    for i, name in enumerate(selected):
        b = load_baseline(name)
        m = b.hns_matrix()
        ivs = interval_estimates(m, reps=reps if ci else 0, seed=seed + i)
        agg = {k: {"value": ivs[k].value, **({"ci": [ivs[k].lo, ivs[k].hi]} if ci else {})} for k in _METRICS}
        differs = {k: abs(agg[k]["value"] - v) > 0.002 for k, v in b.info.reported.items() if k in agg}
        rows.append({
            "name": b.name, "label": b.label, "runs_per_game": b.num_runs, "kind": b.info.kind,
            "aggregates": agg, "reported": dict(b.info.reported), "reported_source": b.info.reported_source,
            "reported_differs": differs, "citation": b.info.citation, "source": b.info.source,
            "reduction": b.info.reduction, "protocol": b.info.protocol,
            **({"per_game_raw_mean": {g: sum(v) / len(v) for g, v in b.raw.items()}} if names else {}),
        })  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    console = Console(width=max(Console().width, 150))
    table = Table(title="published Atari 100k baselines (human-normalised, 26 games; recomputed from shipped data)")
    for col in ("name", "label", "runs", "mean", "median", "IQM", "opt. gap", "reported (paper)"):
        table.add_column(col, justify="left" if col in ("name", "label", "reported (paper)") else "right")
    for r in rows:
        cells = []
        for k in _METRICS:
            a = r["aggregates"][k]
            s = f"{a['value']:.3f}" + (f" [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}]" if "ci" in a else "")
            cells.append(f"[yellow]{s}*[/yellow]" if r["reported_differs"].get(k) else s)
        rep = ", ".join(f"{k} {v:.3f}" for k, v in r["reported"].items()) or "–"
        if any(r["reported_differs"].values()):
            rep += "  [yellow](* differs)[/yellow]"
        table.add_row(r["name"], r["label"], str(r["runs_per_game"]), *cells, rep)
    console.print(table)
    console.print("* recomputed value differs from the paper's by more than 0.002 (see PROVENANCE.md).")
    for r in rows:
        note = f"; reduction: {r['reduction']}" if r["reduction"] != "final score of each run, as released" else ""
        console.print(f"[bold]{r['label']}[/bold]: {r['citation']}. Data: {r['source']}{note}.", highlight=False)
        if "per_game_raw_mean" in r:
            pg = Table(title=f"{r['label']}: mean raw score per game", show_header=True)
            pg.add_column("game")
            pg.add_column("mean raw score", justify="right")
            for g, v in r["per_game_raw_mean"].items():
                pg.add_row(g, f"{v:.1f}")
            console.print(pg)


@click.command("compare")
@click.argument("dirs", nargs=-1, type=click.Path())
@click.option(
    "--baselines", "baseline_spec", default="", help="Comma-separated baselines (see `wmbench baselines`) or 'all'."
)  # noqa: E501
@click.option("--out", "out_dir", default="results/compare", show_default=True, type=click.Path(file_okay=False))
@click.option("--format", "formats", cls=_FormatOption, default="md,tex,csv,json,html,png,svg", show_default=True)
@click.option("--scores", type=click.Choice(["hns", "raw"]), default="hns", show_default=True,
              help="Human-normalised scores (Atari 100k games, catch) or raw returns.")  # fmt: skip
@click.option(
    "--reps", default=AGGREGATE_REPS, show_default=True, type=int, help="Bootstrap resamples for aggregate CIs."
)  # noqa: E501
@click.option("--profile-reps", default=PROFILE_REPS, show_default=True, type=int, help="Resamples for profile bands.")  # noqa: E501
@click.option("--poi-reps", default=PROFILE_REPS, show_default=True, type=int, help="Resamples for PoI CIs.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Bootstrap seed (same seed, same CIs).")
@click.option("--task-bootstrap", is_flag=True, help="Resample games as well as runs.")
@click.option("--allow-mixed-protocols", is_flag=True, help="Pool runs made under different env protocols (marked †).")  # noqa: E501
@friendly_errors
def compare_command(
    dirs: tuple[str, ...], baseline_spec: str, out_dir: str, formats: str, scores: str, reps: int,
    profile_reps: int, poi_reps: int, seed: int, task_bootstrap: bool, allow_mixed_protocols: bool,
) -> None:  # fmt: skip
    """Compare result DIRS against each other and published baselines: one table, one set of figures."""
    from wmbench_core import compare
    from wmbench_core.plugins import get_registry
    from wmbench_core.results import ensure_writable_dir

    registry = get_registry()
    fmt_list = compare.validate_formats(formats.split(","), registry)
    baselines = compare.parse_baselines(baseline_spec)
    for name, value in (("--reps", reps), ("--profile-reps", profile_reps), ("--poi-reps", poi_reps)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if not dirs and not baselines:
        raise ValueError("nothing to compare: give result directories and/or --baselines NAME,...")
    ensure_writable_dir(out_dir, "--out")  # before the bootstrap, not after it
    doc = compare.build_comparison(
        list(dirs), baselines, scores=scores, reps=reps, profile_reps=profile_reps, poi_reps=poi_reps,
        seed=seed, task_bootstrap=task_bootstrap, allow_mixed_protocols=allow_mixed_protocols, registry=registry,
    )  # fmt: skip
    written = compare.write_comparison(doc, out_dir, fmt_list, registry)
    _print_table(doc)
    console = Console(stderr=True)
    console.print(f"wrote {len(written)} file(s) to {out_dir}: " + ", ".join(p.name for p in written), highlight=False)


def _print_table(doc: dict) -> None:
    from wmbench_core.compare import MIXED_MARK, _metric_names, best_labels, format_aggregate

    comp = doc["comparison"]
    names = _metric_names(comp)
    table = Table(title=f"{'HNS' if comp['score'] == 'hns' else 'raw score'} aggregates over "
                        f"{len(comp['games'])} game(s), 95% CI")  # fmt: skip
    table.add_column("entry")
    table.add_column("runs", justify="right")
    for n in names:
        table.add_column(n, justify="right")
    for e in comp["entries"]:
        mark = MIXED_MARK if e["mixed_protocols"] else ""
        cells = []
        for n in names:
            a = e["aggregates"].get(n)
            if a is None:
                cells.append("–")
                continue
            s = format_aggregate(a)
            cells.append(f"[bold]{s}[/bold]{mark}" if e["label"] in best_labels(comp, n) else s + mark)
        table.add_row(e["label"] + mark, str(e["runs_per_game"]), *cells)
    Console(width=max(Console().width, 140)).print(table)
    for p in comp["poi"]:
        click.echo(f"P({p['x']} > {p['y']}) = {format_aggregate(p)}")
    for note in comp["notes"]:
        click.echo(f"note: {note}")
