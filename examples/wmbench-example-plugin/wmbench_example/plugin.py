"""Everything a third-party plugin needs: hook implementations returning specs.

Heavy code stays behind the lazy ``"module:attr"`` factory, so ``wmbench list-agents`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wmbench_core import AgentSpec, ExporterSpec, MetricSpec, hookimpl


@hookimpl
def wmbench_agents() -> list[AgentSpec]:
    return [
        AgentSpec(
            name="sticky-random",
            factory="wmbench_example.agent:StickyRandomAgent",
            summary="Random agent that repeats its last action with probability p (example plugin)",
            presets={"default": "p = 0.75", "jumpy": "p = 0.25"},
            paper="(example) no paper",
        )
    ]


def worst_game_mean(scores: np.ndarray) -> float:
    """The lowest per-game mean: how bad the worst game is."""
    return float(np.min(np.mean(scores, axis=0)))


@hookimpl
def wmbench_metrics() -> list[MetricSpec]:
    return [MetricSpec("worst_game", worst_game_mean, "lowest per-game mean score")]


def write_text(document: dict, path: str | Path) -> None:
    lines = [f"{r['job_id']}\t{r.get('mean_return')}" for r in document["runs"]]
    Path(path).write_text("\n".join(lines) + "\n")


@hookimpl
def wmbench_exporters() -> list[ExporterSpec]:
    return [ExporterSpec("txt", "txt", write_text, "job id and mean return per line")]
