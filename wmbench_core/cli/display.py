"""Rich progress display for runs: one line per job, one bar for training."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as RichProgressBar,
)

from wmbench_core.agent import Progress


class RichTrainingProgress(Progress):
    """An agent's ``train`` progress as a rich bar: env steps, updates/s and the main losses."""

    def __init__(self, bar: RichProgressBar, label: str):
        self.bar = bar
        self.label = label
        self.task: Any = None

    def start(self, total_env_steps: int, description: str = "") -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(
            f"{self.label} {description}".strip(), total=total_env_steps, metrics=""
        )

    def update(self, env_steps: int, metrics: dict[str, float] | None = None) -> None:
        if self.task is None:
            return
        shown = "  ".join(f"{k} {v:.3g}" for k, v in list((metrics or {}).items())[:6])
        self.bar.update(self.task, completed=env_steps, metrics=shown)

    def log(self, message: str) -> None:
        self.bar.console.log(message)

    def stop(self) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None


def make_bar(console: Console | None = None) -> RichProgressBar:
    return RichProgressBar(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[metrics]}"),
        console=console or Console(stderr=True),
        transient=False,
    )
