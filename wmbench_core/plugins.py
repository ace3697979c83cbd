"""Plugin discovery and the registry of agents, metrics and exporters.

Entry points of the ``wmbench`` group are loaded one by one: a plugin that fails to import or to
register is recorded in :attr:`PluginRegistry.failures` with its error and skipped, so one broken
plugin never breaks the others (pluggy's own ``load_setuptools_entrypoints`` aborts on the
first failure and leaves half-registered plugins behind).

``WMBENCH_DISABLE_PLUGINS=name,...`` switches plugins off by entry-point or distribution name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from wmbench_core import hookspecs
from wmbench_core.specs import AgentSpec, ExporterSpec, MetricSpec

ENTRY_POINT_GROUP = "wmbench"
DISABLE_ENV_VAR = "WMBENCH_DISABLE_PLUGINS"

_HOOK_SPEC_TYPES = {
    "wmbench_agents": AgentSpec,
    "wmbench_metrics": MetricSpec,
    "wmbench_exporters": ExporterSpec,
}


class UnknownNameError(LookupError):
    """Asked for an agent/metric/exporter no plugin provides."""


@dataclass
class PluginInfo:
    name: str  # entry-point name
    distribution: str
    version: str
    value: str  # "module" the entry point points to
    hooks: list[str] = field(default_factory=list)


@dataclass
class PluginFailure:
    name: str
    distribution: str
    error: str


def _disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV_VAR, "")
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


class PluginRegistry:
    """Everything the installed plugins contribute, collected once."""

    def __init__(self, entry_points: Iterable[Any] | None = None, extra_plugins: Iterable[Any] = ()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.failures: list[PluginFailure] = []
        self.disabled: list[str] = []
        self.agents: dict[str, tuple[AgentSpec, PluginInfo]] = {}
        self.metrics: dict[str, tuple[MetricSpec, PluginInfo]] = {}
        self.exporters: dict[str, tuple[ExporterSpec, PluginInfo]] = {}
        eps = list(entry_points) if entry_points is not None else _wmbench_entry_points()
        # The core's built-ins register first, so a third party cannot shadow them by accident.
        eps.sort(key=lambda ep: (ep.name != "core", ep.name))
        for ep in eps:
            self._load_entry_point(ep)
        for module in extra_plugins:
            name = getattr(module, "__name__", repr(module))
            self._register(module, PluginInfo(name, "(in-process)", "", name))
        self._collect()

    # -- loading ------------------------------------------------------------------------------
    def _load_entry_point(self, ep: Any) -> None:
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "?"
        version = dist.version if dist is not None else "?"
        disabled = _disabled_names()
        if ep.name.lower() in disabled or dist_name.lower() in disabled:
            self.disabled.append(ep.name)
            return
        try:
            module = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, never fatal
            self.failures.append(PluginFailure(ep.name, dist_name, f"{type(exc).__name__}: {exc}"))
            return
        self._register(module, PluginInfo(ep.name, dist_name, version, ep.value))

    def _register(self, module: Any, info: PluginInfo) -> None:
        try:
            self.pm.register(module, name=info.name)
        except Exception as exc:  # noqa: BLE001
            # pluggy leaves a failed registration half-done (pluggy#733): undo it.
            if self.pm.has_plugin(info.name):
                self.pm.unregister(name=info.name)
            self.failures.append(
                PluginFailure(info.name, info.distribution, f"{type(exc).__name__}: {exc}")
            )
            return
        info.hooks = sorted(
            hc.name for hc in (self.pm.get_hookcallers(module) or []) if hc.name in _HOOK_SPEC_TYPES
        )
        self.plugins.append(info)

    def _collect(self) -> None:
        by_name = {p.name: p for p in self.plugins}
        for hook_name, spec_type in _HOOK_SPEC_TYPES.items():
            table = {
                "wmbench_agents": self.agents,
                "wmbench_metrics": self.metrics,
                "wmbench_exporters": self.exporters,
            }[hook_name]
            # Call each plugin's implementation separately, so one failing hook is isolated.
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():  # registration order
                info = by_name.get(impl.plugin_name)
                if info is None:
                    continue
                try:
                    specs = impl.function()
                    if not isinstance(specs, (list, tuple)):
                        raise TypeError(f"{hook_name}() must return a list, got {type(specs).__name__}")
                    for spec in specs:
                        if not isinstance(spec, spec_type):
                            raise TypeError(
                                f"{hook_name}() returned {type(spec).__name__}, "
                                f"expected {spec_type.__name__}"
                            )
                except Exception as exc:  # noqa: BLE001
                    self.failures.append(
                        PluginFailure(info.name, info.distribution, f"{type(exc).__name__}: {exc}")
                    )
                    continue
                for spec in specs:
                    key = spec.name.lower()
                    if key in table:
                        other = table[key][1]
                        self.failures.append(
                            PluginFailure(
                                info.name,
                                info.distribution,
                                f"{spec_type.__name__} {spec.name!r} already provided by "
                                f"{other.distribution} ({other.name}); ignored",
                            )
                        )
                        continue
                    table[key] = (spec, info)

    # -- lookup -------------------------------------------------------------------------------
    def agent(self, name: str) -> tuple[AgentSpec, PluginInfo]:
        return _lookup(self.agents, name, "agent")

    def metric(self, name: str) -> tuple[MetricSpec, PluginInfo]:
        return _lookup(self.metrics, name, "metric")

    def exporter(self, name: str) -> tuple[ExporterSpec, PluginInfo]:
        return _lookup(self.exporters, name, "format")


def _lookup(table: dict, name: str, kind: str) -> Any:
    try:
        return table[name.lower()]
    except KeyError:
        valid = ", ".join(sorted(table)) or "(none installed)"
        raise UnknownNameError(f"unknown {kind} {name!r}; valid: {valid}") from None


def _wmbench_entry_points() -> list[Any]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


_registry: PluginRegistry | None = None


def get_registry(refresh: bool = False) -> PluginRegistry:
    """The process-wide registry (discovered once; ``refresh=True`` rediscovers)."""
    global _registry
    if _registry is None or refresh:
        _registry = PluginRegistry()
    return _registry
