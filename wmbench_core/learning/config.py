"""Dataclass configs with named presets and ``--set key=value`` overrides.

An agent declares ``@dataclass class MyConfig`` whose defaults are the paper's values (with a
comment citing where each comes from) and a dict of presets (name -> field overrides)::

    config = resolve_config(MyConfig, PRESETS, preset="tiny", overrides={"batch_size": 8})

Unknown presets, unknown keys and values of the wrong type raise
:class:`~wmbench_core.agent.ConfigError` with the valid choices. Nested keys use dots
(``--set optimizer.lr=3e-4``) when a field is itself a dataclass. Values are checked against
the field's declared type: ``bool`` is not an ``int`` here, ``None`` needs ``X | None``, a
``float`` field takes an int, and ``tuple[int, ...]`` checks every element. A number keeps the
sign of its default: a field whose default is not negative (sizes, counts, scales, rates; None)
refuses a negative value; one whose default is negative (a lower bound, a log-scale location)
takes any. Finer bounds (>= 1, choices) are the agent's own validation.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from wmbench_core.agent import ConfigError

C = TypeVar("C")

#: an unknown-key error lists every valid key up to this many, else the closest few
MAX_LISTED_KEYS = 12
CLOSEST_KEYS = 6


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


def require_at_least(config: Any, keys: tuple[str, ...], minimum: int = 1) -> None:
    """Raise ConfigError for the first (dotted) key of ``config`` whose value is below ``minimum``:
    the agents' list of sizes and counts that 0 would leave empty or never advance."""
    for key in keys:
        value = functools.reduce(getattr, key.split("."), config)
        if value < minimum:
            raise ConfigError(f"config key {key!r} must be >= {minimum}, got {value}")


def _set(obj: Any, dotted: str, value: Any, full_key: str) -> Any:
    head, _, rest = dotted.partition(".")
    fields = [f.name for f in dataclasses.fields(obj)]
    if head not in fields:
        raise ConfigError(_unknown_key_message(full_key, full_key[: len(full_key) - len(dotted)], head, fields))
    current = getattr(obj, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"config key {full_key!r}: {head!r} has no sub-keys")
        return dataclasses.replace(obj, **{head: _set(current, rest, value, full_key)})
    if dataclasses.is_dataclass(current):
        example = dataclasses.fields(current)[0].name
        raise ConfigError(f"config key {full_key!r} is a section; set one of its keys, e.g. {full_key}.{example}")
    # unresolvable annotations: the current value's type (None: anything goes, as before)
    declared = _type_hints(type(obj)).get(head, Any if current is None else type(current))
    value = _coerce(declared, value, full_key)
    _check_sign(_default(obj, head), value, full_key)
    return dataclasses.replace(obj, **{head: value})


def _default(obj: Any, name: str) -> Any:
    """The dataclass's declared default of field ``name`` (the paper's value), not a preset's."""
    field = next(f for f in dataclasses.fields(obj) if f.name == name)
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else None


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_sign(default: Any, value: Any, key: str) -> None:
    defaults = default if isinstance(default, tuple) else (default,)
    if any(_is_number(d) and d < 0 for d in defaults):
        return  # a negative default: the field is signed
    numbers = value if isinstance(value, tuple) else (value,)
    if any(_is_number(v) and v < 0 for v in numbers):
        raise ConfigError(f"config key {key!r} must be >= 0 (default {default!r}), got {value!r}")


def _unknown_key_message(full_key: str, prefix: str, head: str, fields: list[str]) -> str:
    close = difflib.get_close_matches(head, fields, n=3)
    hint = f" (did you mean {', '.join(prefix + c for c in close)}?)" if close else ""
    if len(fields) <= MAX_LISTED_KEYS:
        return f"unknown config key {full_key!r}{hint}; valid: {', '.join(prefix + f for f in fields)}"
    # ~90 flat keys (Dreamer) make an unreadable line: show the nearest, point to the full list
    nearest = difflib.get_close_matches(head, fields, n=CLOSEST_KEYS, cutoff=0.0)
    return (
        f"unknown config key {full_key!r}{hint}; {len(fields)} valid keys here, the closest: "
        f"{', '.join(prefix + f for f in nearest)} (`wmbench describe --agent NAME` lists them all)"
    )


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field annotations; {} if they cannot be resolved (the type of the
    current value is used instead)."""
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):
        return {}


class _Mismatch(Exception):
    """``value`` does not fit the declared type (turned into a ConfigError naming the key)."""


def _coerce(declared: Any, value: Any, key: str) -> Any:
    try:
        return _convert(declared, value)
    except _Mismatch:
        got = "None" if value is None else f"{type(value).__name__} {value!r}"
        raise ConfigError(f"config key {key!r} expects {_type_name(declared)}, got {got}") from None


def _convert(declared: Any, value: Any) -> Any:
    if declared is Any:
        return value
    origin, args = typing.get_origin(declared), typing.get_args(declared)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            try:
                return _convert(arg, value)
            except _Mismatch:
                pass
        raise _Mismatch
    if value is None:  # only a type that allows None (``X | None``, above) takes it
        raise _Mismatch
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length: tuple[int, str]
            if len(args) != len(value):
                raise _Mismatch
            return tuple(_convert(a, v) for a, v in zip(args, value))
        return origin(_convert(args[0] if args else Any, v) for v in value)
    if origin is not None:  # dict[str, int], Literal[...] and the like: the container type only
        if isinstance(origin, type) and not isinstance(value, origin):
            raise _Mismatch
        return value
    if not isinstance(declared, type):
        return value
    if declared is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise _Mismatch
    if isinstance(value, bool):  # bool is an int subclass, but `deter=true` is a mistake
        raise _Mismatch
    if declared is float and isinstance(value, (int, float)):
        return float(value)
    if declared in (tuple, list) and isinstance(value, (list, tuple)):
        return declared(value)
    if isinstance(value, declared):
        return value
    raise _Mismatch


def _type_name(declared: Any) -> str:
    if declared is bool:
        return "true/false"
    if isinstance(declared, type) and typing.get_origin(declared) is None:
        return declared.__name__
    return str(declared).replace("typing.", "").replace("NoneType", "None")


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
