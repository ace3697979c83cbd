"""The ``wmbench`` command line (also ``python -m wmbench_core``).

Commands live in small modules and are imported only when invoked (``wmbench list-agents`` must
not pay for gymnasium, the runner or torch): :mod:`.inspect` (list-agents, plugins, describe),
:mod:`.run` (run, report), :mod:`.stats` (baselines, compare), :mod:`.suite` (suite, status).
Input errors print one line and exit with code 2 (:mod:`.errors`).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from wmbench_core import __version__

# command name -> "module:attribute" of its click command
COMMANDS: dict[str, str] = {
    "list-agents": "wmbench_core.cli.inspect:list_agents",
    "plugins": "wmbench_core.cli.inspect:plugins",
    "describe": "wmbench_core.cli.inspect:describe",
    "run": "wmbench_core.cli.run:run",
    "report": "wmbench_core.cli.run:report",
    "baselines": "wmbench_core.cli.stats:baselines_command",
    "compare": "wmbench_core.cli.stats:compare_command",
    "suite": "wmbench_core.cli.suite:suite_command",
    "status": "wmbench_core.cli.suite:status_command",
}


def _available(ref: str) -> bool:
    module_name = ref.partition(":")[0]
    return importlib.util.find_spec(module_name) is not None


class LazyGroup(click.Group):
    """A click group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, ref in COMMANDS.items() if _available(ref))

    def get_command(self, ctx: click.Context, name: str) -> Any:
        ref = COMMANDS.get(name)
        if ref is None or not _available(ref):
            return None
        module_name, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module_name), attr, None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="wmbench")
def cli() -> None:
    """Benchmark world-model RL agents on Atari 100k under one protocol."""


def main() -> None:
    """The console script. Click's own usage errors (a missing or malformed option) become one
    line, as the project's input errors do, instead of click's usage block."""
    import sys

    from wmbench_core.cli.errors import one_line_warnings

    one_line_warnings()
    try:
        code = cli.main(prog_name="wmbench", standalone_mode=False)
    except click.UsageError as exc:
        from wmbench_core.cli.errors import fail

        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `wmbench`: its help, not an error
            click.echo(exc.format_message())
            sys.exit(0)

        where = exc.ctx.command_path if exc.ctx is not None else "wmbench"
        fail(f"{exc.format_message()} (see {where} --help)")
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:  # Ctrl-C at a prompt or outside a command's own handling
        click.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
