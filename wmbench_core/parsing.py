"""Parsing what users type: ``--seeds``, ``--set key=value``, ``--format a,b``."""

from __future__ import annotations

import ast
import json
import re
from typing import Any


class UsageError(ValueError):
    """Malformed user input (shown as one line, exit code 2)."""


#: seeds lie in [0, SEED_LIMIT). numpy/torch take < 2**32, but ALE's vector env takes int32 seeds
#: and evaluation seeds its envs from seed + 10,000 on: 10**9 leaves room for that.
SEED_LIMIT = 10**9
#: more seeds than any benchmark needs; a typo like ``--seeds 10000000`` would plan that many jobs
MAX_SEEDS = 1000


def parse_seeds(text: str | int) -> list[int]:
    """``"1"`` -> [0] (a count, as the earlier harness), ``"0,1"`` -> [0, 1], ``"0-4"`` -> [0..4],
    ``"3,7-9"`` -> [3, 7, 8, 9]. Seeds lie in [0, SEED_LIMIT); at most MAX_SEEDS of them."""
    s = str(text).strip()
    valid = "valid: a count (3 = seeds 0,1,2), a list (0,1) or a range (0-4)"
    too_many = f"--seeds {s!r} gives more than {MAX_SEEDS} seeds (the most one command runs); {valid}"
    if re.fullmatch(r"\d+", s):
        n = int(s)
        if n < 1:
            raise UsageError(f"--seeds {s!r}: the number of seeds must be >= 1; {valid}")
        if n > MAX_SEEDS:
            raise UsageError(too_many)
        return list(range(n))
    seeds: list[int] = []
    for part in s.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)  # a seed or a range lo-hi
        if not m:
            raise UsageError(f"--seeds {s!r} is malformed; {valid}")
        lo = int(m[1])
        hi = int(m[2]) if m[2] else lo
        if hi < lo:
            raise UsageError(f"--seeds {s!r}: range {part!r} is empty; {valid}")
        if hi >= SEED_LIMIT:
            raise UsageError(f"--seeds {s!r}: seed {hi} is too large; seeds must be in [0, {SEED_LIMIT})")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:  # checked before a huge range is built
            raise UsageError(too_many)
        seeds.extend(range(lo, hi + 1))
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


def parse_list(text: str | None, flag: str | None = None) -> list[str]:
    """``"a, b"`` -> ["a", "b"]; None (option not given) -> []. Given text with no names in it
    (``""``, ``","``) is an error rather than "nothing" (``--games ,,`` would mean every game)."""
    if text is None:
        return []
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        where = f"{flag} {text!r}" if flag else repr(text)
        raise UsageError(f"{where} is an empty list; give one or more comma-separated names")
    return items
