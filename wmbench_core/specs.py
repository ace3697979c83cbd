"""The three kinds of thing a plugin contributes: agents, metrics and exporters.

Each is a small frozen dataclass returned (in a list) by the matching hook in
:mod:`wmbench_core.hookspecs`. Specs are cheap to build: an :class:`AgentSpec` names its
factory as a ``"module:attr"`` string, so listing agents never imports torch or agent code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def resolve_reference(ref: str | Callable[..., Any]) -> Any:
    """Import ``"package.module:attr"`` (or return ``ref`` itself if it is already an object)."""
    if not isinstance(ref, str):
        return ref
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ValueError(f"factory reference {ref!r} must look like 'package.module:attr'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class AgentSpec:
    """An agent a plugin offers.

    name:     what users type after ``--agent`` (lower case, unique across plugins).
    factory:  lazy ``"module:attr"`` reference to a :class:`wmbench_core.Agent` subclass (or any
              callable taking the same keyword arguments). Imported only when the agent is run.
    summary:  one line for ``wmbench list-agents``.
    presets:  preset name -> one-line description. The first preset is the default.
    paper:    citation (authors, title, venue, year) shown in listings and reports.
    url:      where to read more (paper or code).
    """

    name: str
    factory: str | Callable[..., Any]
    summary: str = ""
    presets: Mapping[str, str] = field(default_factory=lambda: {"default": "default settings"})
    paper: str = ""
    url: str = ""

    @property
    def default_preset(self) -> str:
        return next(iter(self.presets), "default")

    def load_factory(self) -> Callable[..., Any]:
        return resolve_reference(self.factory)


@dataclass(frozen=True)
class MetricSpec:
    """An aggregate metric over a score matrix.

    fn(scores) -> float, where ``scores`` is a ``(runs, games)`` float array (human-normalised
    scores for Atari, raw returns otherwise). ``higher_is_better`` orders tables and bold marks.
    ``bootstrap``: whether the core should give it a stratified-bootstrap confidence interval.
    """

    name: str
    fn: Callable[..., float] | str
    description: str = ""
    higher_is_better: bool = True
    bootstrap: bool = True

    def load(self) -> Callable[..., float]:
        return resolve_reference(self.fn)


@dataclass(frozen=True)
class ExporterSpec:
    """A results format.

    write(document, path) renders a results document (the dict stored in
    ``benchmark_results.json``) to ``path``; ``extension`` names the file suffix (no dot).
    """

    name: str
    extension: str
    write: Callable[[dict, Any], None] | str
    description: str = ""

    def load(self) -> Callable[[dict, Any], None]:
        return resolve_reference(self.write)
