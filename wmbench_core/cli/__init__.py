"""The ``wmbench`` command line (also ``python -m wmbench_core``).

Commands live in small modules: :mod:`.inspect` (list-agents, plugins, describe),
:mod:`.run` (run, report); statistics (baselines, compare) and the suite (suite, status) add
theirs when present. Input errors print one line and exit with code 2 (:mod:`.errors`).
"""

from __future__ import annotations

import importlib

import click

from wmbench_core import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="wmbench")
def cli() -> None:
    """Benchmark world-model RL agents on Atari 100k under one protocol."""


def _register() -> None:
    from wmbench_core.cli import inspect, run

    for command in (inspect.list_agents, inspect.plugins, inspect.describe, run.run, run.report):
        cli.add_command(command)
    # Optional command modules (statistics, suite): registered when they exist.
    for module_name, attrs in (
        ("wmbench_core.cli.stats", ("baselines_command", "compare_command")),
        ("wmbench_core.cli.suite", ("suite_command", "status_command")),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for attr in attrs:
            if hasattr(module, attr):
                cli.add_command(getattr(module, attr))


_register()


def main() -> None:
    cli(prog_name="wmbench")
