"""Figure exporters: one summary figure (aggregates, profiles, PoI, per-game) as PNG or SVG.

They accept a results document (``wmbench run --format png``) or a comparison document; the
separate figures of ``wmbench compare`` are written by :func:`wmbench_core.figures.write_figures`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _write(document: dict[str, Any], path: str | Path, fmt: str) -> None:
    from wmbench_core.compare import comparison_from_results
    from wmbench_core.figures import _plt, summary_figure

    fig = summary_figure(comparison_from_results(document))
    fig.savefig(Path(path), format=fmt, dpi=120 if fmt == "png" else None, bbox_inches="tight")
    _plt().close(fig)


def write_png(document: dict[str, Any], path: str | Path) -> None:
    _write(document, path, "png")


def write_svg(document: dict[str, Any], path: str | Path) -> None:
    _write(document, path, "svg")
