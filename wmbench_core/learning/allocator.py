"""glibc malloc settings for large CPU tensor workloads.

With glibc's defaults every activation above the (dynamic) mmap threshold is mmap-ed and
unmapped on each allocation, and big torch updates on this kind of machine spend as much time in
page faults as in compute (shared/research/peer-timings.md §4: 2-4x slower). Keeping freed
memory in the heap fixes it. Two ways, the same effect unless more than 4 GB is freed at the top
of the heap at once (the variables then let glibc trim it; the ``mallopt`` setting never does):

* :func:`tune_malloc` calls ``mallopt`` in the running process (the runner does this before
  training);
* :data:`MALLOC_ENV` are the equivalent environment variables for worker processes and for
  timing peers under the same settings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

MALLOC_ENV = {
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": "4294967296",
    "MALLOC_TOP_PAD_": "536870912",
}

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

_applied = False


def tune_malloc() -> bool:
    """Apply the settings to this process (glibc only). Returns whether they are in effect."""
    global _applied
    if _applied:
        return True
    if os.environ.get("WMBENCH_NO_MALLOC_TUNING"):
        return False
    if all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        _applied = True  # already set for this process by its environment
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(_M_MMAP_MAX, 0) == 1
    # never trim: glibc keeps the threshold as a size_t, so the int -1 means "no limit" (the env
    # var's 4 GB does not fit an int; at 2**31 - 1, DIAMOND's ~9 GB reward/termination update
    # re-faulted ~0.5 M freed pages in half of its updates: median 8.5 s instead of 6.6 s)
    ok &= mallopt(_M_TRIM_THRESHOLD, -1) == 1
    ok &= mallopt(_M_TOP_PAD, 512 * 2**20) == 1
    _applied = bool(ok)
    return _applied


def release_free_memory() -> bool:
    """Give the heap's free pages back to the OS (glibc ``malloc_trim(0)``). With the settings
    above a process otherwise keeps its peak memory: call this after dropping large models or
    batches when something else (another job, a peer being timed) needs the RAM."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False


def malloc_env() -> dict[str, str]:
    """``os.environ`` plus the settings, for subprocesses."""
    env = dict(os.environ)
    env.update(MALLOC_ENV)
    return env
