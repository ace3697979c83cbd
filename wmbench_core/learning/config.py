"""Dataclass configs with named presets and ``--set key=value`` overrides.

An agent declares ``@dataclass class MyConfig`` whose defaults are the paper's values (with a
comment citing where each comes from) and a dict of presets (name -> field overrides)::

    config = resolve_config(MyConfig, PRESETS, preset="tiny", overrides={"batch_size": 8})

Unknown presets, unknown keys and values of the wrong type raise
:class:`~wmbench_core.agent.ConfigError` with the valid choices. Nested keys use dots
(``--set optimizer.lr=3e-4``) when a field is itself a dataclass.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from wmbench_core.agent import ConfigError

C = TypeVar("C")


def resolve_config(
    cls: type[C],
    presets: Mapping[str, Mapping[str, Any]],
    preset: str | None,
    overrides: Mapping[str, Any] | None = None,
) -> C:
    name = preset or next(iter(presets))
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r}; valid: {', '.join(presets)}")
    config = cls()
    for key, value in {**presets[name], **(overrides or {})}.items():
        config = _set(config, key, value, key)
    return config


def _set(obj: Any, dotted: str, value: Any, full_key: str) -> Any:
    head, _, rest = dotted.partition(".")
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if head not in fields:
        close = difflib.get_close_matches(head, list(fields), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown config key {full_key!r}{hint}; valid: {', '.join(fields)}")
    current = getattr(obj, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"config key {full_key!r}: {head!r} has no sub-keys")
        return dataclasses.replace(obj, **{head: _set(current, rest, value, full_key)})
    kind = type(current) if current is not None else _declared_kind(type(obj), head)
    return dataclasses.replace(obj, **{head: _coerce(kind, value, full_key)})


def _declared_kind(cls: type, name: str) -> type | None:
    """The one non-None type a field is annotated with (``int | None`` -> int), else None."""
    args = [a for a in typing.get_args(typing.get_type_hints(cls)[name]) if a is not type(None)]
    return args[0] if len(args) == 1 and isinstance(args[0], type) else None


def _coerce(kind: type | None, value: Any, key: str) -> Any:
    if kind is None or kind is type(None) or value is None:
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ConfigError(f"config key {key!r} expects true/false, got {value!r}")
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (tuple, list) and isinstance(value, (list, tuple)):
        return kind(value)
    if kind is str and isinstance(value, str):
        return value
    if isinstance(value, kind):
        return value
    raise ConfigError(
        f"config key {key!r} expects {kind.__name__}, got {type(value).__name__} {value!r}"
    )


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
