"""Writing a results document in several formats (the earlier harness's ``reporting`` API).

    from wmbench_core import reporting
    reporting.export_latex(res, "results/bench/benchmark_results.tex")
    reporting.export(res, "results/bench", formats=["json", "csv", "md", "tex"])

Formats are exporter plugins (``wmbench_exporters`` hook): a third-party format works here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wmbench_core.exporters import tables

BASENAME = "benchmark_results"


def export_json(document: dict[str, Any], path: str | Path) -> None:
    tables.write_json(document, path)


def export_csv(document: dict[str, Any], path: str | Path) -> None:
    tables.write_csv(document, path)


def export_markdown(document: dict[str, Any], path: str | Path) -> None:
    tables.write_markdown(document, path)


def export_latex(document: dict[str, Any], path: str | Path) -> None:
    tables.write_latex(document, path)


def validate_formats(formats: Iterable[str]) -> list[str]:
    """Check format names against the installed exporters; raises UnknownNameError."""
    from wmbench_core.plugins import get_registry

    registry = get_registry()
    names = [f.strip().lower() for f in formats if f.strip()]
    for name in names:
        registry.exporter(name)
    return names


def export(document: dict[str, Any], out_dir: str | Path, formats: Iterable[str]) -> list[Path]:
    """Write ``document`` to ``out_dir/benchmark_results.<ext>`` for each format."""
    from wmbench_core.plugins import get_registry

    registry = get_registry()
    written = []
    for name in validate_formats(formats):
        spec, _ = registry.exporter(name)
        path = Path(out_dir) / f"{BASENAME}.{spec.extension}"
        spec.load()(document, path)
        written.append(path)
    return written
