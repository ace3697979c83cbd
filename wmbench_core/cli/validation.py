"""Input checks shared by ``wmbench run`` and ``wmbench suite``: everything is validated before
any work is done, so a bad input costs nothing and overwrites nothing."""

from __future__ import annotations

from typing import Any

from wmbench_core.parsing import UsageError
from wmbench_core.plugins import PluginRegistry


def resolve_agent_names(registry: PluginRegistry, agents: tuple[str, ...], all_agents: bool) -> list[str]:
    """``--agent`` names (canonical, deduplicated, in order) or every installed learning agent."""
    if all_agents:
        names = sorted(n for n in registry.agents if n != "random")
        if not names:
            raise UsageError("--all-agents: no agent plugins are installed (pip install plugins/wmbench-...)")
        return names
    if not agents:
        raise UsageError("give --agent NAME (repeatable; see `wmbench list-agents`) or --all-agents")
    return list(dict.fromkeys(registry.agent(a)[0].name for a in agents))


def check_agents_accept(
    registry: PluginRegistry, agent_names: list[str], preset: str | None, env: Any, overrides: dict[str, Any]
) -> None:
    """The preset exists for every agent, and each agent builds with the ``--set`` overrides
    (unknown keys and bad values fail here with the agent's own one-line ConfigError)."""
    for name in agent_names:
        spec, _ = registry.agent(name)
        if preset is not None and preset not in spec.presets:
            raise UsageError(f"unknown preset {preset!r} for agent {name}; valid: {', '.join(spec.presets)}")
    for name in agent_names:
        build_agent(registry, name, env, preset, overrides)


def build_agent(registry: PluginRegistry, name: str, env: Any, preset: str | None, overrides: dict[str, Any]) -> Any:
    """The agent on the CPU with the ``--set`` overrides. A ConfigError names the agent (with
    several --agent, which one refused). A value the plugin did not validate that makes building
    fail (a negative layer size: torch's own error) is a bad input too when overrides were given:
    one line naming them; without overrides the failure is the plugin's bug and keeps its traceback."""
    from wmbench_core.agent import ConfigError  # imports the env stack: only once it is needed

    spec, _ = registry.agent(name)
    try:
        return spec.load_factory()(env=env, preset=preset, device="cpu", seed=0, work_dir=None, **overrides)
    except ConfigError as exc:
        raise ConfigError(f"agent {name}: {exc}") from None
    except Exception as exc:
        if not overrides:
            raise
        given = " ".join(f"{k}={v}" for k, v in overrides.items())
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(f"agent {name} cannot be built with --set {given}: {type(exc).__name__}: {first[:200]}"
                          " (`wmbench describe --agent NAME` lists the keys and their defaults)") from None


def check_at_least(minimum: int, **values: int | None) -> None:
    """``--option`` values (None = not given) must be >= ``minimum``."""
    for name, value in values.items():
        if value is not None and value < minimum:
            flag = "--" + name.replace("_", "-")
            what = "a positive integer" if minimum == 1 else f">= {minimum}"
            raise UsageError(f"{flag} must be {what}, got {value}")
