"""``wmbench list-agents``, ``wmbench plugins``, ``wmbench describe``."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from wmbench_core.cli.errors import friendly_errors
from wmbench_core.plugins import get_registry


@click.command("list-agents")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_agents(as_json: bool) -> None:
    """Every agent the installed plugins offer (imports no agent code)."""
    registry = get_registry()
    rows = [
        {
            "name": spec.name, "plugin": info.distribution, "version": info.version,
            "presets": list(spec.presets), "default_preset": spec.default_preset,
            "summary": spec.summary, "paper": spec.paper, "factory": str(spec.factory),
        }  # fmt: skip
        for spec, info in sorted(registry.agents.values(), key=lambda si: si[0].name)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="wmbench agents")
    # names stay whole on a narrow terminal; the prose columns wrap
    for col in ("agent", "plugin", "presets"):
        table.add_column(col, no_wrap=True)
    for col in ("summary", "paper"):
        table.add_column(col, overflow="fold", ratio=1)
    for r in rows:
        plugin = f"{r['plugin']}\n{r['version']}"
        table.add_row(r["name"], plugin, "\n".join(r["presets"]), r["summary"], r["paper"])
    Console().print(table)
    if registry.failures:
        Console(stderr=True).print(
            f"[yellow]{len(registry.failures)} plugin problem(s); see `wmbench plugins`[/yellow]"
        )


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """Discovered plugins, the hooks they implement, and those that failed to load."""
    registry = get_registry()
    data = {
        "plugins": [
            {"name": p.name, "distribution": p.distribution, "version": p.version,
             "entry_point": p.value, "hooks": p.hooks}  # fmt: skip
            for p in registry.plugins
        ],
        "failed": [{"name": f.name, "distribution": f.distribution, "error": f.error} for f in registry.failures],
        "disabled": registry.disabled,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console = Console()
    table = Table(title="wmbench plugins")
    for col in ("name", "distribution", "entry point"):
        table.add_column(col, no_wrap=True)
    table.add_column("hooks", overflow="fold")
    for p in data["plugins"]:
        table.add_row(p["name"], f"{p['distribution']}\n{p['version']}", p["entry_point"], "\n".join(p["hooks"]))
    console.print(table)
    for f in data["failed"]:
        console.print(f"[red]failed[/red] {f['name']} ({f['distribution']}): {f['error']}")
    for name in data["disabled"]:
        console.print(f"[dim]disabled[/dim] {name} (WMBENCH_DISABLE_PLUGINS)")


@click.command("describe")
@click.option("--agent", "agent_name", required=True, help="Agent name (see list-agents).")
@click.option("--preset", default=None, help="Preset (default: the agent's first).")
@click.option("--game", default="Pong", show_default=True, help="Game (sets the number of actions).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Config override.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly_errors
def describe(agent_name: str, preset: str | None, game: str, sets: tuple[str, ...], as_json: bool) -> None:
    """An agent's resolved hyperparameters and parameter counts per component."""
    from wmbench_core.cli.validation import build_agent
    from wmbench_core.envs import make_env_spec
    from wmbench_core.parsing import parse_overrides

    registry = get_registry()
    spec, info = registry.agent(agent_name)
    agent = build_agent(registry, spec.name, make_env_spec(game), preset, parse_overrides(sets))
    desc = agent.describe()
    desc = {"agent": spec.name, "plugin": f"{info.distribution} {info.version}", "preset": agent.preset, **desc}
    if as_json:
        click.echo(json.dumps(desc, indent=2, default=str))
        return
    console = Console()
    hp = Table(title=f"{spec.name} ({agent.preset}) hyperparameters")
    hp.add_column("key")
    hp.add_column("value", overflow="fold")
    for k, v in _flatten(desc.get("hyperparameters", {})):
        hp.add_row(k, str(v))
    console.print(hp)
    params = Table(title="parameters")
    params.add_column("component")
    params.add_column("count", justify="right")
    for k, v in desc.get("parameters", {}).items():
        params.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    console.print(params)


def _flatten(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v
