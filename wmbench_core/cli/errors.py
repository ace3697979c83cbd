"""Bad input -> one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

USAGE_EXIT = 2


def user_errors() -> tuple[type[BaseException], ...]:
    from wmbench_core.agent import CheckpointError, ConfigError
    from wmbench_core.envs.games import UnknownGameError
    from wmbench_core.parsing import UsageError
    from wmbench_core.plugins import UnknownNameError

    return (
        UsageError, UnknownNameError, UnknownGameError, ConfigError, CheckpointError,
        FileNotFoundError, PermissionError, ValueError,
    )  # fmt: skip


def fail(message: str, code: int = USAGE_EXIT) -> None:
    click.echo(f"wmbench: error: {message}", err=True)
    sys.exit(code)


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
