"""Self-contained HTML report: the comparison tables and the figures embedded as base64 PNG.

As an exporter (``write_html(document, path)``) it also accepts a plain results document (from
``wmbench run`` / ``wmbench report``): the comparison section is then computed from its runs.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{border-bottom:2px solid #444}
td.best{font-weight:bold}
.ci{color:#666;font-size:0.85em}
.note{color:#555;font-size:0.9em}
img{max-width:100%;margin:0.5em 0}
"""


def _e(s: Any) -> str:
    return html.escape(str(s))


def _fmt(x: float | None, digits: int = 3) -> str:
    from wmbench_core.compare import _fmt as f

    return f(x, digits)


def render_html(document: dict[str, Any], figures: bool = True) -> str:
    from wmbench_core import compare

    comp = document["comparison"]
    names = compare._metric_names(comp)
    bests = {n: compare.best_labels(comp, n) for n in names}
    word = compare._score_word(comp)
    reps = comp["reps"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>wmbench comparison</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>wmbench comparison</h1>",
        f"<p>{_e(word.capitalize())}s over {len(comp['games'])} game(s). 95% percentile stratified-bootstrap "
        f"confidence intervals ({reps['aggregates']:,} resamples for aggregates, {reps['profiles']:,} for "
        f"profiles, {reps['poi']:,} for probability of improvement; seed {comp['seed']}). "
        f"wmbench {_e(document.get('wmbench_version', ''))}, {_e(document.get('updated', ''))}.</p>",
        "<h2>Aggregates</h2><table><thead><tr><th>entry</th><th>kind</th><th>runs/game</th>"
        + "".join(f"<th>{_e(n)}</th>" for n in names)
        + "<th>protocol</th></tr></thead><tbody>",
    ]
    for e in comp["entries"]:
        mark = compare._mark(e)
        row = [f"<td>{_e(e['label'] + mark)}</td><td>{_e(e['kind'])}</td><td>{e['runs_per_game']}</td>"]
        for n in names:
            a = e["aggregates"].get(n)
            if a is None:
                row.append("<td>–</td>")
                continue
            ci = f" <span class='ci'>[{_fmt(a['ci'][0])}, {_fmt(a['ci'][1])}]</span>" if a.get("ci") else ""
            cls = " class='best'" if e["label"] in bests[n] else ""
            row.append(f"<td{cls}>{_fmt(a['value'])}{ci}{_e(mark)}</td>")
        row.append(f"<td>{_e(', '.join(e['protocols']))}</td>")
        parts.append("<tr>" + "".join(row) + "</tr>")
    parts.append("</tbody></table>")
    rows = compare.reported_rows(comp)
    if rows:
        parts.append("<h2>Reported vs recomputed</h2><table><thead><tr><th>baseline</th><th>metric</th>"
                     "<th>reported</th><th>recomputed</th><th></th></tr></thead><tbody>")  # fmt: skip
        for label, metric, rep, val, differs in rows:
            flag = "<b>differs</b>" if differs else "ok"
            parts.append(
                f"<tr><td>{_e(label)}</td><td>{_e(metric)}</td><td>{rep:.3f}</td><td>{val:.3f}</td><td>{flag}</td></tr>"
            )  # noqa: E501
        parts.append("</tbody></table>")
    if comp["poi"]:
        parts.append("<h2>Probability of improvement</h2><table><thead><tr><th>X</th><th>Y</th>"
                     "<th>P(X &gt; Y) [95% CI]</th></tr></thead><tbody>")  # fmt: skip
        for p in comp["poi"]:
            parts.append(f"<tr><td>{_e(p['x'])}</td><td>{_e(p['y'])}</td><td>{_fmt(p['value'])} "
                         f"<span class='ci'>[{_fmt(p['ci'][0])}, {_fmt(p['ci'][1])}]</span></td></tr>")  # fmt: skip
        parts.append("</tbody></table>")
    if figures:
        from wmbench_core.figures import FIGURES, figure_bytes, has_figure

        parts.append("<h2>Figures</h2>")
        for name in FIGURES:
            if not has_figure(document, name):
                continue
            data = base64.b64encode(figure_bytes(document, name, "png")).decode()
            parts.append(f"<div><img alt='{name}' src='data:image/png;base64,{data}'></div>")
    labels = [e["label"] for e in comp["entries"]]
    for key, title in (("score_mean", f"Per-game mean {word}"), ("raw_mean", "Per-game mean raw score")):
        if key == "raw_mean" and comp["score"] == "raw":
            continue
        parts.append(f"<h2>{_e(title)}</h2><table><thead><tr><th>game</th>"
                     + "".join(f"<th>{_e(lab)}</th>" for lab in labels) + "</tr></thead><tbody>")  # fmt: skip
        for g in comp["all_games"]:
            best = compare.best_per_game(comp, g, key)
            cells = []
            for e in comp["entries"]:
                pg = e["per_game"].get(g)
                if pg is None:
                    cells.append("<td>–</td>")
                    continue
                s = _fmt(pg[key]) if key == "score_mean" else compare._raw_fmt(pg[key])
                cls = " class='best'" if e["label"] in best and len(best) < len(labels) else ""
                cells.append(f"<td{cls}>{s}</td>")
            parts.append(f"<tr><td>{_e(g)}</td>{''.join(cells)}</tr>")
        parts.append("</tbody></table>")
    parts.append("<h2>Sources</h2><ul>")
    for e in comp["entries"]:
        src = e["citation"] or ", ".join(e["sources"]) or "this run"
        red = f" Reduction: {_e(e['reduction'])}." if e.get("reduction") else ""
        parts.append(f"<li><b>{_e(e['label'])}</b> ({_e(e['kind'])}): {_e(src)}.{red} "
                     f"Protocol: {_e(', '.join(e['protocols']))}.</li>")  # fmt: skip
    parts.append("</ul>")
    if comp["notes"]:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li class='note'>{_e(n)}</li>" for n in comp["notes"]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(document: dict[str, Any], path: str | Path) -> None:
    """Exporter entry point: a results or comparison document -> one self-contained HTML file."""
    from wmbench_core.compare import comparison_from_results
    from wmbench_core.results import atomic_write_text

    atomic_write_text(Path(path), render_html(comparison_from_results(document)))
