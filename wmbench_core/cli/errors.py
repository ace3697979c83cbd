"""Bad input -> one line on stderr, exit code 2, no traceback. Ctrl-C -> a ``--resume`` hint, 130."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from wmbench_core.parsing import UsageError

USAGE_EXIT = 2
INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C


def user_errors() -> tuple[type[BaseException], ...]:
    from wmbench_core.agent import CheckpointError, ConfigError
    from wmbench_core.envs.games import UnknownGameError
    from wmbench_core.parsing import UsageError
    from wmbench_core.plugins import UnknownNameError

    return (
        UsageError, UnknownNameError, UnknownGameError, ConfigError, CheckpointError,
        FileNotFoundError, PermissionError, ValueError,
    )  # fmt: skip


def one_line_warnings() -> None:
    """Python warnings (a plugin's ``warnings.warn``) print as one ``wmbench: warning:`` line, like
    the core's own, instead of Python's two (file:line, then the source line)."""
    import warnings

    warnings.formatwarning = lambda message, category, *_args, **_kwargs: f"wmbench: warning: {message}\n"


def fail(message: str, code: int = USAGE_EXIT) -> NoReturn:
    click.echo(f"wmbench: error: {message}", err=True)
    sys.exit(code)


def refuse_together(why: str = "", **given: Any) -> None:
    """Options that are alternatives (``--agent`` / ``--all-agents``): give at most one. Values
    None, False and () count as not given (0 is given)."""
    named = ["--" + name.replace("_", "-") for name, value in given.items()
             if value is not None and value is not False and value != ()]  # fmt: skip
    if len(named) > 1:
        raise UsageError(f"{' and '.join(named)} are alternatives{f' ({why})' if why else ''}; give one of them")


def exit_interrupted(out_dir: str | Path) -> NoReturn:
    """Ctrl-C of a run or suite: every finished job is already in runs.jsonl; say how to go on."""
    from wmbench_core.results import RUNS_FILE

    click.echo(f"interrupted: finished jobs are kept in {Path(out_dir) / RUNS_FILE}; "
               "continue with the same command plus --resume", err=True)  # fmt: skip
    sys.exit(INTERRUPTED_EXIT)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's input errors into one clear line and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except user_errors() as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(message)

    return wrapper
