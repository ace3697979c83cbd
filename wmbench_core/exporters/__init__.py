"""The core's exporters (registered through the ``wmbench_exporters`` hook like any plugin's).

Each ``write(document, path)`` renders a results document (see :mod:`wmbench_core.results`).
"""

from __future__ import annotations

from wmbench_core.specs import ExporterSpec

BUILTIN_EXPORTERS = (
    ExporterSpec("json", "json", "wmbench_core.exporters.tables:write_json", "the results document"),
    ExporterSpec("csv", "csv", "wmbench_core.exporters.tables:write_csv", "one tidy row per episode (pandas-friendly)"),
    ExporterSpec("md", "md", "wmbench_core.exporters.tables:write_markdown", "Markdown summary table"),
    ExporterSpec("tex", "tex", "wmbench_core.exporters.tables:write_latex", "LaTeX booktabs table"),
    ExporterSpec("html", "html", "wmbench_core.exporters.html:write_html", "self-contained HTML report"),
    ExporterSpec("png", "png", "wmbench_core.exporters.figures:write_png", "summary figure (aggregates, PoI ...)"),
    ExporterSpec("svg", "svg", "wmbench_core.exporters.figures:write_svg", "the summary figure as SVG"),
)  # fmt: skip
