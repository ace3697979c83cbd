"""Parsing what users type: ``--seeds``, ``--set key=value``, ``--format a,b``."""

from __future__ import annotations

import ast
import json
import re
from typing import Any


class UsageError(ValueError):
    """Malformed user input (shown as one line, exit code 2)."""


def parse_seeds(text: str | int) -> list[int]:
    """``"1"`` -> [0] (a count, as the earlier harness), ``"0,1"`` -> [0, 1], ``"0-4"`` -> [0..4],
    ``"3,7-9"`` -> [3, 7, 8, 9]."""
    s = str(text).strip()
    valid = "valid: a count (3 = seeds 0,1,2), a list (0,1) or a range (0-4)"
    if re.fullmatch(r"\d+", s):
        n = int(s)
        if n < 1:
            raise UsageError(f"--seeds {s!r}: the number of seeds must be >= 1; {valid}")
        return list(range(n))
    seeds: list[int] = []
    for part in s.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)-(\d+)", part)
        if m:
            lo, hi = int(m[1]), int(m[2])
            if hi < lo:
                raise UsageError(f"--seeds {s!r}: range {part!r} is empty; {valid}")
            seeds.extend(range(lo, hi + 1))
        elif re.fullmatch(r"\d+", part):
            seeds.append(int(part))
        else:
            raise UsageError(f"--seeds {s!r} is malformed; {valid}")
    if len(set(seeds)) != len(seeds):
        raise UsageError(f"--seeds {s!r} repeats a seed; {valid}")
    return seeds


def parse_value(raw: str) -> Any:
    """JSON or Python literal (``3``, ``1e-4``, ``true``, ``[1,2]``); anything else is a string."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[A-Za-z_][\w.]*", key):
            raise UsageError(f"--set {pair!r} is malformed; expected key=value, e.g. --set batch_size=16")
        out[key] = parse_value(raw.strip())
    return out


def parse_list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]
