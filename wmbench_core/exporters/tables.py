"""json, csv, Markdown and LaTeX renderings of a results document."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from wmbench_core.compare import REPORT_HEADER, hns_markdown_lines, hns_or_none, report_cells
from wmbench_core.results import atomic_write_text, dumps

CSV_COLUMNS = (
    "agent", "preset", "game", "seed", "episode", "return", "length",
    "env_steps_trained", "protocol", "status", "hns",
)  # fmt: skip


def write_json(document: dict[str, Any], path: str | Path) -> None:
    atomic_write_text(Path(path), dumps(document, indent=2))


def write_csv(document: dict[str, Any], path: str | Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in document["runs"]:
        protocol = (r.get("protocol") or {}).get("name", "")
        base = [r["agent"], r.get("preset"), r["game"], r["seed"]]
        returns = r.get("episode_returns") or []
        lengths = r.get("episode_lengths") or [None] * len(returns)
        if not returns:  # failed job: one row so that it is visible
            w.writerow(base + [None, None, None, r.get("env_steps_trained"), protocol, r.get("status"), None])
        for i, (ret, length) in enumerate(zip(returns, lengths)):
            hns = hns_or_none(r["game"], ret)
            w.writerow(base + [i, ret, length, r.get("env_steps_trained"), protocol, r.get("status"), hns])
    atomic_write_text(Path(path), buf.getvalue())


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return "–"
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)


def _rows(document: dict[str, Any]) -> list[list[str]]:
    rows = []
    for g in document["aggregate"].get("groups", []):
        lo, hi = g.get("iqm_ci") or (None, None)
        rows.append([
            g["agent"], g["preset"], g["game"], str(len(g["seeds"])), str(g["episodes"]),
            f"{_fmt(g['mean'])} ± {_fmt(g['std'])}", _fmt(g["median"]),
            f"{_fmt(g['iqm'])} [{_fmt(lo)}, {_fmt(hi)}]",
            *report_cells(g["game"], g["mean"]),
            ", ".join(_fmt(m) for m in g["per_seed_means"]),
        ])  # fmt: skip
    return rows


HEADER = ["agent", "preset", "game", "seeds", "episodes", "mean ± std", "median", "IQM [95% CI]",
          *REPORT_HEADER, "per-seed means"]  # fmt: skip


def write_markdown(document: dict[str, Any], path: str | Path) -> None:
    lines = [
        "# wmbench results",
        "",
        f"wmbench {document.get('wmbench_version')}, updated {document.get('updated')}. "
        "Raw episode returns; statistics over per-seed mean returns (IQM: 25% trimmed mean; "
        "CI: percentile bootstrap, 2,000 resamples). HNS: human-normalised mean return; IRIS, DIAMOND, "
        "DreamerV3: their published mean raw scores on the game.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(document)]
    failed = document["aggregate"].get("failed_jobs") or []
    if failed:
        lines += ["", f"**Failed jobs ({len(failed)}):** " + ", ".join(f"`{j}`" for j in failed)]
    lines += hns_markdown_lines(document)
    lines += _training_lines(document)
    protocols = sorted({(r.get("protocol") or {}).get("name", "?") for r in document["runs"]})
    lines += ["", f"Environment protocol(s): {', '.join(protocols) or '–'}", ""]
    atomic_write_text(Path(path), "\n".join(lines))


def _training_lines(document: dict[str, Any]) -> list[str]:
    """The training side of each group: start vs end of its learning curves."""
    from wmbench_core.curves import training_summary

    groups = training_summary(document["runs"])
    if not groups:
        return []
    lines = ["", "## Training", "",
             "Training-episode returns (raw) from the jobs' learning curves (`jobs/<job>/train_episodes.csv`): "
             "mean over runs of the episodes ending in the first and in the last 10% of the steps. "
             "`wmbench compare DIR --format png` draws the curves.", "",
             "| agent | preset | game | runs | training episodes | env steps | first 10% | last 10% |",
             "|---|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for g in groups:
        lines.append(f"| {g['agent']} | {g['preset']} | {g['game']} | {g['runs']} | {g['episodes']:,} | "
                     f"{g['env_steps']:,} | {_fmt(g['start_return'])} | {_fmt(g['end_return'])} |")  # fmt: skip
    return lines


def _tex(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("±", r"$\pm$"), ("–", "--")):  # fmt: skip
        s = s.replace(a, b)
    return s


def write_latex(document: dict[str, Any], path: str | Path) -> None:
    cols = HEADER[:-1]
    lines = [
        "% wmbench results (requires \\usepackage{booktabs})",
        "\\begin{table}[t]",
        "\\centering",
        "\\begin{tabular}{lll" + "r" * (len(cols) - 3) + "}",
        "\\toprule",
        " & ".join(_tex(c) for c in cols) + " \\\\",
        "\\midrule",
    ]
    for row in _rows(document):
        lines.append(" & ".join(_tex(c) for c in row[:-1]) + " \\\\")
    lines += [
        "\\bottomrule",
        "\\end{tabular}",
        "\\caption{Raw episode returns: mean $\\pm$ std, median and interquartile mean (95\\% "
        "percentile bootstrap CI) over per-seed mean returns; HNS of the mean return; published mean "
        "raw scores of IRIS, DIAMOND and DreamerV3.}",
        "\\end{table}",
        "",
    ]
    atomic_write_text(Path(path), "\n".join(lines))
