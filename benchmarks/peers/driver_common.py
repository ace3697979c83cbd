"""What both reference drivers share: argument parsing, re-running under the reference venv's
Python, and the warm-up / timed loop. Plain stdlib, so it imports in either venv (the drivers
find it next to themselves: a script's directory is on ``sys.path``)."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable


def parse_args(argv: list[str], items: tuple[str, ...], usage: str) -> tuple[int, list[tuple[str, int, int]]]:
    """``THREADS WARMUP TIMED [ITEM[:W:T] ...]`` -> (threads, [(item, warmup, timed), ...])."""
    if len(argv) < 3:
        raise SystemExit(usage)
    threads, warmup, timed = int(argv[0]), int(argv[1]), int(argv[2])
    plan = []
    for spec in argv[3:] or list(items):
        name, *counts = spec.split(":")
        if name not in items:
            raise SystemExit(f"unknown item {name!r}; choose from {', '.join(items)}")
        w, t = (int(counts[0]), int(counts[1])) if counts else (warmup, timed)
        plan.append((name, w, t))
    return threads, plan


def reexec_under(peer_python: str, script: str) -> None:
    """Re-run ``script`` under the reference venv's Python unless already there; the caller's
    environment (its ``MALLOC_*`` settings) is kept."""
    venv = os.path.dirname(os.path.dirname(os.path.abspath(peer_python)))
    if os.path.realpath(sys.prefix) == os.path.realpath(venv) or os.environ.get("_PEER_DRIVER_REEXEC"):
        return
    if not os.path.exists(peer_python):
        raise SystemExit(f"peer python {peer_python} not found (set PEER_PYTHON)")
    env = dict(os.environ, _PEER_DRIVER_REEXEC="1")
    os.execve(peer_python, [peer_python, os.path.abspath(script), *sys.argv[1:]], env)


def time_calls(name: str, fn: Callable[[], None], warmup: int, timed: int, log: Callable[[str], None],
               per_call: int = 1) -> list[float]:
    """Seconds of each timed call of ``fn`` (divided by ``per_call``), after ``warmup`` calls."""
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        log(f"{name}: warm-up {i + 1}/{warmup} {(time.perf_counter() - t0) / per_call:.3f} s")
    times = []
    for i in range(timed):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) / per_call)
        log(f"{name}: timed {i + 1}/{timed} {times[-1]:.3f} s")
    return times


def summary(times: list[float], **extra: object) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "times": times, **extra}


def batch_scale() -> float:
    """``PEER_BATCH_SCALE`` (default 1): shrinks every batch for a quick validation run."""
    return float(os.environ.get("PEER_BATCH_SCALE", "1"))


def scaled(n: int, scale: float) -> int:
    return max(1, int(round(n * scale)))


def print_results(run: Callable[[], dict]) -> None:
    """Run with stdout sent to stderr (the reference prints), then print the one JSON line."""
    with contextlib.redirect_stdout(sys.stderr):
        results = run()
    print(json.dumps(results))
