"""Comparing result directories against each other and against published baselines.

:func:`build_comparison` turns result dirs (``benchmark_results.json`` / ``runs.jsonl``) and
shipped baselines into one *comparison document*: a results document (``runs`` and
``aggregate``, so every exporter plugin can render it) plus a ``comparison`` section:

* one entry per (agent, preset) of the result dirs and one per baseline, with per-game run
  scores (a run's score is the mean return of its evaluation episodes), raw and human-normalised;
* every metric of the ``wmbench_metrics`` hook (built-in and third-party) over the games all
  entries share, with stratified-bootstrap percentile CIs (:mod:`wmbench_core.metrics`);
* probability of improvement of each result entry over every other entry, and performance
  profiles with CI bands;
* learning curves (training-episode return against env steps) of each game the result runs
  recorded them for, beside the published DreamerV3 curves when that baseline is compared, and
  the sample-efficiency curve of each result entry across the shared games (IQM per step bin,
  with CIs; :mod:`wmbench_core.curves`).

Runs made under different environment protocols (the ``protocol`` dict of each record) are
never pooled into one entry unless ``allow_mixed_protocols``; then the entry and every number
computed from it carries ``mixed_protocols: true`` (a dagger in tables).

:func:`write_comparison` renders it: Markdown, LaTeX (booktabs), CSV (long form), JSON, HTML
(self-contained) and figures (PNG/SVG), plus any exporter plugin's format.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wmbench_core import normalization
from wmbench_core.metrics import (
    AGGREGATE_REPS,
    PROFILE_REPS,
    interval_estimates,
    performance_profile_ci,
    probability_of_improvement_ci,
)

COMPARE_FORMAT = "wmbench-compare/1"
BASENAME = "compare"
# Formats compare renders itself; exporter plugins add theirs (e.g. the example plugin's txt).
NATIVE_FORMATS = ("md", "tex", "csv", "json", "html", "png", "svg")
DEFAULT_FORMATS = "md,tex,csv,json,html,png,svg"
MIXED_MARK = "†"  # marks numbers computed from runs pooled across environment protocols


@dataclass
class Entry:
    label: str
    kind: str  # "results" | "baseline"
    raw: dict[str, list[float]]  # game -> per-run raw score
    seeds: dict[str, list[Any]] = field(default_factory=dict)
    agent: str = ""
    preset: str = ""
    sources: list[str] = field(default_factory=list)
    protocols: list[str] = field(default_factory=list)
    mixed_protocols: bool = False
    citation: str = ""
    reduction: str = ""
    reported: dict[str, float] = field(default_factory=dict)
    reported_source: str = ""
    notes: list[str] = field(default_factory=list)
    curves: dict[str, list[Any]] = field(default_factory=dict)  # game -> run learning curves


# ------------------------------------------------------------------------------- loading
def _protocol_label(protocol: dict[str, Any] | None) -> str:
    if not protocol:
        return "unrecorded"
    return f"{protocol.get('name', '?')} v{protocol.get('version', '?')}"


def _protocol_key(protocol: dict[str, Any] | None) -> str:
    return json.dumps(protocol or {}, sort_keys=True)


def load_result_entries(
    dirs: Sequence[str | Path], allow_mixed_protocols: bool = False, notes: list[str] | None = None
) -> tuple[list[Entry], list[dict]]:
    """Entries (one per agent/preset) and all records of the result dirs. A dir given twice (as
    resolved) and a record identical to one already loaded count once; ``notes`` gets a line."""
    from wmbench_core.results import load_document, record_fingerprint

    notes = [] if notes is None else notes
    groups: dict[tuple[str, str], list[tuple[str, dict]]] = defaultdict(list)
    all_records: list[dict] = []
    loaded: dict[Path, str] = {}  # resolved path -> the path as given
    seen: dict[str, str] = {}  # canonical record -> the path it came from
    for d in map(str, dirs):
        key = Path(d).resolve()
        if key in loaded:
            same = "was given twice" if d == loaded[key] else f"is the same dir as {loaded[key]!r}"
            notes.append(f"{d!r} {same}: its runs are counted once")
            continue
        loaded[key] = d
        runs = load_document(d)["runs"]  # validated records, one per job id
        if not any(r.get("status") == "ok" and r.get("episode_returns") for r in runs):
            raise ValueError(f"no finished runs in {d!r} ({len(runs)} record(s), none with status ok)")
        records, copied_from = [], set()
        for r in runs:
            first = seen.setdefault(record_fingerprint(r), d)
            if first == d:
                records.append(r)
            else:
                copied_from.add(first)
        if copied_from:
            notes.append(f"{len(runs) - len(records)} run(s) of {d!r} are exact copies of runs of "
                         f"{', '.join(map(repr, sorted(copied_from)))}: counted once")  # fmt: skip
        ok = [r for r in records if r.get("status") == "ok" and r.get("episode_returns")]
        all_records.extend(records)
        for r in ok:
            groups[(str(r["agent"]), str(r.get("preset") or "default"))].append((d, r))

    # Pool an agent's runs across dirs; if two dirs hold the same (game, seed), keep them apart.
    entries: list[Entry] = []
    agents = [a for a, _ in groups]
    for (agent, preset), items in groups.items():
        parts: dict[str, list[tuple[str, dict]]] = {"": items}
        first_dir: dict[tuple[str, Any], str] = {}
        if any((first_dir.setdefault((r["game"], r["seed"]), d) != d) for d, r in items):
            parts = defaultdict(list)
            for d, r in items:
                parts[d].append((d, r))
        names = [Path(d).resolve().name for d in parts]
        for suffix, rows in parts.items():
            label = agent if agents.count(agent) == 1 else f"{agent}/{preset}"
            if suffix:  # the dir's name, or its path when two dirs share a name
                name = Path(suffix).resolve().name
                label = f"{label} ({name if names.count(name) == 1 else suffix})"
            entries.append(_entry_from_records(label, agent, preset, rows, allow_mixed_protocols))
    return entries, all_records


def _entry_from_records(label: str, agent: str, preset: str, rows: list[tuple[str, dict]], allow_mixed: bool) -> Entry:
    by_key: dict[str, dict] = {}
    for _, r in rows:
        by_key.setdefault(_protocol_key(r.get("protocol")), r.get("protocol") or {})
    protocols = sorted({_protocol_label(p) for p in by_key.values()})
    if len(by_key) > 1 and len(protocols) == 1:
        protocols = [f"{protocols[0]} ({len(by_key)} variants)"]
    mixed = len(by_key) > 1
    if mixed and not allow_mixed:
        raise ValueError(
            f"{label}: runs under different environment protocols cannot be pooled "
            f"({'; '.join(protocols)}); pass --allow-mixed-protocols to pool them (numbers get marked)"
        )
    from wmbench_core.curves import record_curve

    raw: dict[str, list[tuple[Any, float]]] = defaultdict(list)
    curves: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for _, r in rows:
        returns = [float(x) for x in r["episode_returns"]]
        raw[str(r["game"])].append((r.get("seed"), sum(returns) / len(returns)))
        curve = record_curve(r)
        if curve is not None:
            curves[str(r["game"])].append((r.get("seed"), curve))
    entry = Entry(
        label=label,
        kind="results",
        agent=agent,
        preset=preset,
        raw={g: [s for _, s in sorted(v, key=_seed_order)] for g, v in sorted(raw.items())},
        seeds={g: [k for k, _ in sorted(v, key=_seed_order)] for g, v in sorted(raw.items())},
        sources=sorted({d for d, _ in rows}),
        protocols=protocols,
        mixed_protocols=mixed,
        curves={g: [c for _, c in sorted(v, key=_seed_order)] for g, v in sorted(curves.items())},
    )
    if mixed:
        entry.notes.append(f"{MIXED_MARK} pools runs made under different protocols: {'; '.join(protocols)}")
    return entry


def _seed_order(item: tuple[Any, float]) -> tuple[int, str]:
    seed = item[0]
    return (0, f"{seed:012d}") if isinstance(seed, int) else (1, str(seed))


def baseline_entry(name: str) -> Entry:
    from wmbench_core.baselines import load_baseline, training_curves

    b = load_baseline(name)
    info = b.info
    entry = Entry(
        label=info.label,
        kind="baseline",
        raw={g: list(v) for g, v in sorted(b.raw.items())},
        agent=info.name,
        sources=[info.source],
        protocols=[info.protocol or "as published"],
        citation=info.citation,
        reduction=info.reduction,
        reported=dict(info.reported),
        reported_source=info.reported_source,
        curves=training_curves(name) or {},
    )
    if info.kind == "per-game":
        entry.notes.append(f"{info.label}: one score per game (no run-level data): CIs are degenerate")
    return entry


def parse_baselines(spec: str | Iterable[str] | None) -> list[str]:
    """``"iris,diamond"`` / ``"all"`` -> validated canonical names (unknown names raise)."""
    from wmbench_core.baselines import baseline_names, get_info

    if spec is None:
        return []
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if any(s.lower() == "all" for s in items):
        return baseline_names()
    names: list[str] = []
    for s in items:
        name = get_info(s).name
        if name not in names:
            names.append(name)
    return names


# ------------------------------------------------------------------------------ statistics
def _scores_table(entry: Entry, scores: str) -> dict[str, list[float]]:
    normalize = _normalizer(scores)
    return {g: [float(x) for x in np.atleast_1d(normalize(g, v))] for g, v in entry.raw.items()}


def _normalizer(scores: str) -> Any:
    """(game, raw returns) -> the comparison's scores (HNS or raw)."""
    if scores == "raw":
        return lambda game, raw: np.asarray(raw, dtype=np.float64)
    return lambda game, raw: np.asarray(normalization.human_normalized_score(game, raw), dtype=np.float64)


def _matrix(table: dict[str, list[float]], games: list[str]) -> tuple[np.ndarray, int, bool]:
    counts = [len(table[g]) for g in games]
    k = min(counts)
    return np.array([table[g][:k] for g in games], dtype=np.float64).T, k, len(set(counts)) > 1


def _metric_specs(registry: Any) -> list[tuple[Any, str]]:
    if registry is None:
        from wmbench_core.plugins import get_registry

        registry = get_registry()
    return [(spec, info.distribution) for spec, info in registry.metrics.values()]


def _json_float(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def build_comparison(
    dirs: Sequence[str | Path] = (),
    baselines: Sequence[str] = (),
    *,
    scores: str = "hns",
    reps: int = AGGREGATE_REPS,
    profile_reps: int = PROFILE_REPS,
    poi_reps: int = PROFILE_REPS,
    seed: int = 0,
    task_bootstrap: bool = False,
    allow_mixed_protocols: bool = False,
    taus: Sequence[float] | None = None,
    registry: Any = None,
) -> dict[str, Any]:
    """The comparison document of ``dirs`` and ``baselines`` (see the module doc)."""
    from wmbench_core import __version__
    from wmbench_core.results import aggregate

    if scores not in ("hns", "raw"):
        raise ValueError(f"unknown score type {scores!r}; valid: hns, raw")
    if not dirs and not baselines:
        raise ValueError("nothing to compare: give result directories and/or --baselines")
    notes: list[str] = []
    entries, records = load_result_entries(dirs, allow_mixed_protocols, notes) if dirs else ([], [])
    labels = {e.label.lower() for e in entries}
    for name in parse_baselines(list(baselines)):
        b = baseline_entry(name)
        if b.label.lower() in labels:
            b.label = f"{b.label} (published)"
        entries.append(b)
        labels.add(b.label.lower())
    tables = {e.label: _scores_table(e, scores) for e in entries}  # raises for unknown HNS games

    all_games = sorted(set().union(*(set(e.raw) for e in entries)))
    games = sorted(set.intersection(*(set(e.raw) for e in entries)))
    if not games:
        per = "; ".join(f"{e.label}: {', '.join(sorted(e.raw))}" for e in entries)
        raise ValueError(f"the entries share no game, nothing to aggregate ({per})")
    if len(games) < len(all_games):
        notes.append(f"aggregates use the {len(games)} game(s) common to all entries: {', '.join(games)}")

    specs = _metric_specs(registry)
    metric_meta = [
        {
            "name": s.name,
            "description": s.description,
            "higher_is_better": s.higher_is_better,
            "bootstrap": s.bootstrap,
            "plugin": dist,
        }
        for s, dist in specs
    ]
    matrices: dict[str, np.ndarray] = {}
    out_entries = []
    for i, e in enumerate(entries):
        m, k, unequal = _matrix(tables[e.label], games)
        matrices[e.label] = m
        if unequal:
            e.notes.append(
                f"{e.label}: runs per game differ ({min(len(tables[e.label][g]) for g in games)}-"
                f"{max(len(tables[e.label][g]) for g in games)}); aggregates use the first {k} run(s) of each game"
            )
        aggs = _aggregates(m, specs, reps, seed + i, task_bootstrap, e)
        per_game = {}
        for g in sorted(e.raw):
            raw_runs = e.raw[g]
            sc = tables[e.label][g]
            per_game[g] = {
                "runs": len(raw_runs),
                "raw_mean": float(np.mean(raw_runs)),
                "score_mean": float(np.mean(sc)),
                "raw": [float(x) for x in raw_runs],
                "scores": [float(x) for x in sc],
                "seeds": e.seeds.get(g, []),
            }
        out_entries.append(
            {
                "label": e.label,
                "kind": e.kind,
                "agent": e.agent,
                "preset": e.preset,
                "sources": e.sources,
                "protocols": e.protocols,
                "mixed_protocols": e.mixed_protocols,
                "citation": e.citation,
                "reduction": e.reduction,
                "reported": e.reported,
                "reported_source": e.reported_source,
                "runs_per_game": k,
                "games": sorted(e.raw),
                "per_game": per_game,
                "aggregates": aggs,
                "notes": e.notes,
            }
        )
        notes.extend(e.notes)

    # probability of improvement: each result entry (or the first entry) against every other
    xs = [e.label for e in entries if e.kind == "results"] or [entries[0].label]
    poi = []
    for j, x in enumerate(xs):
        for y in (e.label for e in entries):
            if y == x:
                continue
            iv = probability_of_improvement_ci(
                matrices[x], matrices[y], reps=poi_reps, seed=seed + 1000 + j, task_bootstrap=task_bootstrap
            )
            mixed = any(e.mixed_protocols for e in entries if e.label in (x, y))
            poi.append(
                {
                    "x": x,
                    "y": y,
                    "value": iv.value,
                    "ci": [_json_float(iv.lo), _json_float(iv.hi)],
                    "mixed_protocols": mixed,
                }
            )

    if taus is None:
        if scores == "hns":
            taus = np.linspace(0.0, 8.0, 161)
        else:
            lo = min(float(m.min()) for m in matrices.values())
            hi = max(float(m.max()) for m in matrices.values())
            pad = 0.05 * (hi - lo) if hi > lo else 1.0  # start below the lowest score: the profile starts at 1
            taus = np.linspace(lo - pad, hi + pad, 101)
    taus = np.asarray(taus, dtype=np.float64)
    profiles: dict[str, Any] = {"taus": taus.tolist(), "run": {}, "average": {}}
    for i, e in enumerate(entries):
        for kind in ("run", "average"):
            p, lo, hi = performance_profile_ci(
                matrices[e.label],
                taus,
                kind=kind,
                reps=profile_reps,
                seed=seed + 2000 + i,
                task_bootstrap=task_bootstrap,
            )
            profiles[kind][e.label] = {
                "value": p.tolist(),
                "lo": [_json_float(v) for v in lo],
                "hi": [_json_float(v) for v in hi],
            }

    from wmbench_core.curves import learning_curves, sample_efficiency

    ours = {e.label: e.curves for e in entries if e.kind == "results"}
    curves = learning_curves(ours, {e.label: e.curves for e in entries if e.kind == "baseline"})
    efficiency = sample_efficiency(ours, games, _normalizer(scores), reps=profile_reps, seed=seed + 3000,
                                   task_bootstrap=task_bootstrap)  # fmt: skip
    return {
        "format": COMPARE_FORMAT,
        "wmbench_version": __version__,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": records,
        "aggregate": aggregate(records),
        "comparison": {
            "score": scores,
            "normalization": normalization.TABLE_NAME if scores == "hns" else None,
            "confidence": 0.95,
            "reps": {"aggregates": reps, "profiles": profile_reps, "poi": poi_reps},
            "seed": seed,
            "task_bootstrap": task_bootstrap,
            "games": games,
            "all_games": all_games,
            "metrics": metric_meta,
            "entries": out_entries,
            "poi": poi,
            "profiles": profiles,
            "learning_curves": curves,
            "sample_efficiency": efficiency,
            "notes": notes,
        },
    }


def _aggregates(
    m: np.ndarray, specs: list[tuple[Any, str]], reps: int, seed: int, task_bootstrap: bool, e: Entry
) -> dict:
    fns: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    point_only: dict[str, Any] = {}
    for spec, dist in specs:
        try:
            fn = spec.load()
            float(fn(m))  # a broken third-party metric is reported, not fatal
        except Exception as exc:  # noqa: BLE001
            e.notes.append(f"metric {spec.name} ({dist}) failed on {e.label}: {type(exc).__name__}: {exc}")
            continue
        (fns if spec.bootstrap else point_only)[spec.name] = fn
    for name, iv in (
        interval_estimates(m, fns, reps=reps, seed=seed, task_bootstrap=task_bootstrap) if fns else {}
    ).items():
        out[name] = {
            "value": iv.value,
            "ci": [_json_float(iv.lo), _json_float(iv.hi)],
            "mixed_protocols": e.mixed_protocols,
        }
    for name, fn in point_only.items():
        out[name] = {"value": float(fn(m)), "ci": None, "mixed_protocols": e.mixed_protocols}
    return out


# ------------------------------------------------------------------------------- rendering
def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}"



def format_aggregate(a: dict | None) -> str:
    """``value [lo, hi]`` (or ``value`` without a CI, ``–`` when missing) for tables."""
    if a is None:
        return "–"
    return _fmt(a["value"]) + (f" [{_fmt(a['ci'][0])}, {_fmt(a['ci'][1])}]" if a.get("ci") else "")

def _raw_fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def best_labels(comp: dict[str, Any], metric: str) -> set[str]:
    meta = next((m for m in comp["metrics"] if m["name"] == metric), {"higher_is_better": True})
    vals = {e["label"]: e["aggregates"][metric]["value"] for e in comp["entries"] if metric in e["aggregates"]}
    if not vals:
        return set()
    best = max(vals.values()) if meta["higher_is_better"] else min(vals.values())
    return {k for k, v in vals.items() if v == best}


def best_per_game(comp: dict[str, Any], game: str, key: str = "score_mean") -> set[str]:
    vals = {e["label"]: e["per_game"][game][key] for e in comp["entries"] if game in e["per_game"]}
    best = max(vals.values()) if vals else None
    return {k for k, v in vals.items() if v == best}


def _metric_names(comp: dict[str, Any]) -> list[str]:
    names = [m["name"] for m in comp["metrics"]]
    return [n for n in names if any(n in e["aggregates"] for e in comp["entries"])]


def _mark(e: dict[str, Any]) -> str:
    return MIXED_MARK if e.get("mixed_protocols") else ""


def _score_word(comp: dict[str, Any]) -> str:
    return "human-normalised score" if comp["score"] == "hns" else "raw score"


def reported_rows(comp: dict[str, Any], tolerance: float = 0.002) -> list[tuple[str, str, float, float, bool]]:
    """``(label, metric, reported, recomputed, differs)`` for baselines with published aggregates."""
    rows = []
    if comp["score"] != "hns":
        return rows
    for e in comp["entries"]:
        for metric, rep in (e.get("reported") or {}).items():
            if metric in e["aggregates"] and len(comp["games"]) == len(normalization.ATARI100K_GAMES):
                val = e["aggregates"][metric]["value"]
                rows.append((e["label"], metric, rep, val, abs(val - rep) > tolerance))
    return rows


def render_markdown(document: dict[str, Any]) -> str:
    comp = document["comparison"]
    names = _metric_names(comp)
    reps = comp["reps"]
    lines = [
        "# wmbench comparison",
        "",
        f"{_score_word(comp).capitalize()}s over {len(comp['games'])} game(s); 95% percentile stratified-bootstrap "
        f"CIs ({reps['aggregates']:,} resamples for aggregates, {reps['profiles']:,} for profiles, "
        f"{reps['poi']:,} for probability of improvement; seed {comp['seed']}). "
        + (f"Normaliser: {comp['normalization']}." if comp["normalization"] else ""),
        "",
        "## Aggregates",
        "",
        "| entry | kind | runs/game | " + " | ".join(names) + " | protocol |",
        "|---|---|---:|" + "---:|" * len(names) + "---|",
    ]
    bests = {n: best_labels(comp, n) for n in names}
    for e in comp["entries"]:
        cells = []
        for n in names:
            a = e["aggregates"].get(n)
            if a is None:
                cells.append("–")
                continue
            s = format_aggregate(a)
            s = f"**{s}**" if e["label"] in bests[n] else s
            cells.append(s + _mark(e))
        lines.append(
            f"| {e['label']}{_mark(e)} | {e['kind']} | {e['runs_per_game']} | "
            + " | ".join(cells)
            + f" | {', '.join(e['protocols'])} |"
        )
    rows = reported_rows(comp)
    if rows:
        lines += [
            "",
            "## Reported vs recomputed",
            "",
            "| baseline | metric | reported | recomputed | |",
            "|---|---|---:|---:|---|",
        ]
        for label, metric, rep, val, differs in rows:
            lines.append(f"| {label} | {metric} | {rep:.3f} | {val:.3f} | {'**differs**' if differs else 'ok'} |")
    if comp["poi"]:
        lines += ["", "## Probability of improvement P(X > Y)", "", "| X | Y | P(X > Y) [95% CI] |", "|---|---|---:|"]
        for p in comp["poi"]:
            m = MIXED_MARK if p.get("mixed_protocols") else ""
            lines.append(f"| {p['x']} | {p['y']} | {_fmt(p['value'])} [{_fmt(p['ci'][0])}, {_fmt(p['ci'][1])}]{m} |")
    labels = [e["label"] for e in comp["entries"]]
    for key, title in (("score_mean", f"Per-game mean {_score_word(comp)}"), ("raw_mean", "Per-game mean raw score")):
        if key == "raw_mean" and comp["score"] == "raw":
            continue
        lines += ["", f"## {title}", "", "| game | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
        for g in comp["all_games"]:
            best = best_per_game(comp, g, key)
            cells = []
            for e in comp["entries"]:
                pg = e["per_game"].get(g)
                if pg is None:
                    cells.append("–")
                    continue
                s = _fmt(pg[key]) if key == "score_mean" else _raw_fmt(pg[key])
                cells.append(f"**{s}**" if e["label"] in best and len(best) < len(labels) else s)
            lines.append(f"| {g} | " + " | ".join(cells) + " |")
    lines += _efficiency_markdown(comp)
    lines += ["", "## Sources", ""]
    for e in comp["entries"]:
        src = e["citation"] or ", ".join(e["sources"])
        extra = f" Reduction: {e['reduction']}." if e.get("reduction") else ""
        lines.append(f"- **{e['label']}** ({e['kind']}): {src}.{extra} Protocol: {', '.join(e['protocols'])}.")
    if comp["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in comp["notes"]]
    return "\n".join(lines) + "\n"


def _efficiency_columns(steps: list[float]) -> list[int]:
    """The step bins at a quarter, half, three quarters and all of the steps."""
    return sorted({max(0, round(len(steps) * q) - 1) for q in (0.25, 0.5, 0.75, 1.0)})


def _efficiency_markdown(comp: dict[str, Any]) -> list[str]:
    """The sample-efficiency curves at a quarter, half, three quarters and all of the steps."""
    eff = comp.get("sample_efficiency") or {}
    if not eff.get("entries"):
        return []
    steps = eff["env_step"]
    cols = _efficiency_columns(steps)
    lines = [
        "",
        f"## Sample efficiency: IQM of training-episode {_score_word(comp)}s",
        "",
        f"Over runs and the {len(eff['games'])} game(s) above, by env step (each run's latest training "
        f"episodes; 95% CIs, {comp['reps']['profiles']:,} resamples).",
        "",
        "| entry | " + " | ".join(f"{steps[c]:,.0f} steps" for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for label, e in eff["entries"].items():
        cells = [f"{_fmt(e['iqm'][c])} [{_fmt(e['lo'][c])}, {_fmt(e['hi'][c])}]" if e["iqm"][c] is not None else "–"
                 for c in cols]  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _tex(s: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("–", "--"),
        (MIXED_MARK, r"$^\dagger$"),
    ):
        s = s.replace(a, b)
    return s


def render_latex(document: dict[str, Any]) -> str:
    comp = document["comparison"]
    names = _metric_names(comp)
    bests = {n: best_labels(comp, n) for n in names}
    word = _score_word(comp)
    out = [
        "% wmbench comparison (requires \\usepackage{booktabs})",
        "\\begin{table}[t]",
        "\\centering",
        "\\begin{tabular}{l" + "c" * len(names) + "}",
        "\\toprule",
        " & ".join(
            ["Agent"]
            + [_tex(n.replace("_", " ").replace("iqm", "IQM").capitalize() if n != "iqm" else "IQM") for n in names]
        )
        + " \\\\",  # noqa: E501
        "\\midrule",
    ]
    for e in comp["entries"]:
        cells = [_tex(e["label"] + _mark(e))]
        for n in names:
            a = e["aggregates"].get(n)
            if a is None:
                cells.append("--")
                continue
            v = _fmt(a["value"])
            v = f"\\textbf{{{v}}}" if e["label"] in bests[n] else v
            if a.get("ci"):
                v += f" {{\\scriptsize [{_fmt(a['ci'][0])}, {_fmt(a['ci'][1])}]}}"
            cells.append(v)
        out.append(" & ".join(cells) + " \\\\")
    reps = comp["reps"]["aggregates"]
    out += [
        "\\bottomrule",
        "\\end{tabular}",
        f"\\caption{{Aggregate {word}s over {len(comp['games'])} games with 95\\% stratified-bootstrap "
        f"percentile confidence intervals ({reps:,} resamples). Bold: best point estimate."
        + (
            " $^\\dagger$: runs pooled across environment protocols."
            if any(e["mixed_protocols"] for e in comp["entries"])
            else ""
        )  # noqa: E501
        + "}",
        "\\label{tab:wmbench-aggregates}",
        "\\end{table}",
        "",
    ]
    labels = [e["label"] for e in comp["entries"]]
    key = "raw_mean"
    out += [
        "\\begin{table}[t]",
        "\\centering",
        "\\begin{tabular}{l" + "r" * len(labels) + "}",
        "\\toprule",
        " & ".join(["Game"] + [_tex(lab) for lab in labels]) + " \\\\",
        "\\midrule",
    ]
    for g in comp["all_games"]:
        best = best_per_game(comp, g, key)
        cells = [_tex(g)]
        for e in comp["entries"]:
            pg = e["per_game"].get(g)
            if pg is None:
                cells.append("--")
                continue
            s = _tex(_raw_fmt(pg[key]))
            cells.append(f"\\textbf{{{s}}}" if e["label"] in best and len(best) < len(labels) else s)
        out.append(" & ".join(cells) + " \\\\")
    if comp["score"] == "hns":
        out.append("\\midrule")
        for n in ("mean", "iqm"):
            if n in names:
                row = ["HNS " + ("IQM" if n == "iqm" else n)]
                for e in comp["entries"]:
                    a = e["aggregates"].get(n)
                    v = _fmt(a["value"]) if a else "--"
                    row.append(f"\\textbf{{{v}}}" if a and e["label"] in bests[n] else v)
                out.append(" & ".join(row) + " \\\\")
    out += [
        "\\bottomrule",
        "\\end{tabular}",
        "\\caption{Mean raw score per game (over runs). Bold: best per game.}",
        "\\label{tab:wmbench-per-game}",
        "\\end{table}",
        "",
    ]
    return "\n".join(out + _efficiency_latex(comp))


def _efficiency_latex(comp: dict[str, Any]) -> list[str]:
    """The sample-efficiency table of the markdown report, as a LaTeX table."""
    eff = comp.get("sample_efficiency") or {}
    if not eff.get("entries"):
        return []
    steps = eff["env_step"]
    cols = _efficiency_columns(steps)
    out = [
        "\\begin{table}[t]",
        "\\centering",
        "\\begin{tabular}{l" + "c" * len(cols) + "}",
        "\\toprule",
        " & ".join(["Agent"] + [f"{steps[c]:,.0f} steps" for c in cols]) + " \\\\",
        "\\midrule",
    ]
    for label, e in eff["entries"].items():
        cells = [_tex(label)]
        for c in cols:
            if e["iqm"][c] is None:
                cells.append("--")
            else:
                cells.append(f"{_fmt(e['iqm'][c])} {{\\scriptsize [{_fmt(e['lo'][c])}, {_fmt(e['hi'][c])}]}}")
        out.append(" & ".join(cells) + " \\\\")
    out += [
        "\\bottomrule",
        "\\end{tabular}",
        f"\\caption{{Sample efficiency: IQM over runs and {len(eff['games'])} games of the training-episode "
        f"{_score_word(comp)}s (each run's latest episodes) by env step, with 95\\% stratified-bootstrap "
        f"percentile confidence intervals ({comp['reps']['profiles']:,} resamples).}}",
        "\\label{tab:wmbench-sample-efficiency}",
        "\\end{table}",
        "",
    ]
    return out


CSV_COLUMNS = ("section", "entry", "kind", "game", "metric", "value", "ci_lo", "ci_hi", "runs", "mixed_protocols")


def render_csv(document: dict[str, Any]) -> str:
    """Long form: one row per (entry, game, quantity), aggregate and PoI rows (pandas-friendly)."""
    comp = document["comparison"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for e in comp["entries"]:
        mixed = int(bool(e["mixed_protocols"]))
        for n, a in e["aggregates"].items():
            lo, hi = a["ci"] if a.get("ci") else (None, None)
            w.writerow(["aggregate", e["label"], e["kind"], "", n, a["value"], lo, hi, e["runs_per_game"], mixed])
        for g, pg in e["per_game"].items():
            w.writerow(["per_game", e["label"], e["kind"], g, "raw_mean", pg["raw_mean"], "", "", pg["runs"], mixed])
            if comp["score"] == "hns":
                w.writerow(
                    ["per_game", e["label"], e["kind"], g, "hns_mean", pg["score_mean"], "", "", pg["runs"], mixed]
                )
    for p in comp["poi"]:
        w.writerow(
            [
                "poi",
                f"{p['x']} > {p['y']}",
                "",
                "",
                "probability_of_improvement",
                p["value"],
                p["ci"][0],
                p["ci"][1],
                "",
                int(bool(p.get("mixed_protocols"))),
            ]
        )
    return buf.getvalue()


def render_curves_csv(document: dict[str, Any]) -> str:
    """The learning curves, one row per (entry, game, step bin): mean, min and max over runs."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(("entry", "game", "env_step", "train_return_mean", "train_return_min", "train_return_max", "runs"))
    for game, c in document["comparison"]["learning_curves"].items():
        for label, e in c["entries"].items():
            for i, step in enumerate(c["env_step"]):
                w.writerow((label, game, step, e["mean"][i], e["lo"][i], e["hi"][i], e["runs"]))
    return buf.getvalue()


def render_efficiency_csv(document: dict[str, Any]) -> str:
    """The sample-efficiency curves, one row per (entry, step bin): IQM and its 95% CI."""
    eff = document["comparison"].get("sample_efficiency") or {}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(("entry", "env_step", "iqm", "ci_lo", "ci_hi", "runs_per_game", "games"))
    for label, e in (eff.get("entries") or {}).items():
        for i, step in enumerate(eff["env_step"]):
            w.writerow((label, step, e["iqm"][i], e["lo"][i], e["hi"][i], e["runs"], len(eff["games"])))
    return buf.getvalue()


def write_comparison(
    document: dict[str, Any], out_dir: str | Path, formats: Iterable[str], registry: Any = None
) -> list[Path]:
    """Write ``compare.<ext>`` for each format (and ``figures/`` for png/svg, and
    ``compare_curves.csv`` and ``compare_efficiency.csv`` beside the csv when there are learning
    and sample-efficiency curves)."""
    from wmbench_core.results import atomic_write_text, dumps

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    formats = [f.strip().lower() for f in formats if f.strip()]
    written: list[Path] = []
    figure_formats = [f for f in formats if f in ("png", "svg")]
    if figure_formats:
        from wmbench_core.figures import write_figures

        written += write_figures(document, out / "figures", figure_formats)
    for fmt in formats:
        path = out / f"{BASENAME}.{fmt}"
        if fmt == "md":
            atomic_write_text(path, render_markdown(document))
        elif fmt == "tex":
            atomic_write_text(path, render_latex(document))
        elif fmt == "csv":
            atomic_write_text(path, render_csv(document))
            if document["comparison"].get("learning_curves"):
                curves_path = out / f"{BASENAME}_curves.csv"
                atomic_write_text(curves_path, render_curves_csv(document))
                written.append(curves_path)
            if (document["comparison"].get("sample_efficiency") or {}).get("entries"):
                efficiency_path = out / f"{BASENAME}_efficiency.csv"
                atomic_write_text(efficiency_path, render_efficiency_csv(document))
                written.append(efficiency_path)
        elif fmt == "json":
            atomic_write_text(path, dumps(document, indent=2))
        elif fmt == "html":
            from wmbench_core.exporters.html import render_html

            atomic_write_text(path, render_html(document))
        elif fmt in ("png", "svg"):
            continue
        else:  # an exporter plugin's format
            if registry is None:
                from wmbench_core.plugins import get_registry

                registry = get_registry()
            spec, _ = registry.exporter(fmt)
            path = out / f"{BASENAME}.{spec.extension}"
            spec.load()(document, path)
        written.append(path)
    return written


def validate_formats(formats: Iterable[str], registry: Any = None) -> list[str]:
    """Native compare formats plus every exporter plugin's; unknown names raise ValueError."""
    if registry is None:
        from wmbench_core.plugins import get_registry

        registry = get_registry()
    valid = list(NATIVE_FORMATS) + sorted(set(registry.exporters) - set(NATIVE_FORMATS))
    names = [f.strip().lower() for f in formats if f.strip()]
    if not names:
        raise ValueError(f"--format is empty; valid: {', '.join(valid)}")
    for n in names:
        if n not in valid:
            raise ValueError(f"unknown format {n!r}; valid: {', '.join(valid)}")
    return names


def comparison_from_results(document: dict[str, Any], reps: int = AGGREGATE_REPS, **kwargs: Any) -> dict[str, Any]:
    """A comparison section for a plain results document (no baselines), for exporters that get
    a results document: HNS when every game has reference scores, raw scores otherwise."""
    if "comparison" in document:
        return document
    import tempfile

    from wmbench_core.results import DOCUMENT_FILE, dumps

    records = document.get("runs", [])
    games = {r.get("game") for r in records if r.get("status") == "ok" and r.get("episode_returns")}
    scores = "hns" if games and all(normalization.has_reference(g) for g in games) else "raw"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / DOCUMENT_FILE).write_text(dumps({"runs": records}))
        comp = build_comparison([tmp], scores=scores, reps=reps, allow_mixed_protocols=True, **kwargs)
    comp["comparison"]["entries"] = [{**e, "sources": []} for e in comp["comparison"]["entries"]]
    return {**document, "comparison": comp["comparison"]}


def hns_summary(records: list[dict[str, Any]], reps: int = AGGREGATE_REPS, seed: int = 0) -> dict[str, Any]:
    """HNS aggregates per (agent, preset) of a results document's records, for its ``aggregate``
    section: ``{"agent/preset": {"games": [...], "runs_per_game": k, "per_game_hns": {...},
    "<metric>": {"value", "ci"}}}``. Games without reference scores are skipped (listed)."""
    by: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    skipped: set[str] = set()
    for r in records:
        if r.get("status") != "ok" or not r.get("episode_returns"):
            continue
        if not normalization.has_reference(r["game"]):
            skipped.add(r["game"])
            continue
        score = sum(r["episode_returns"]) / len(r["episode_returns"])
        by[(r["agent"], r.get("preset") or "default")][r["game"]].append(
            float(normalization.human_normalized_score(r["game"], score))
        )
    out: dict[str, Any] = {"normalization": normalization.TABLE_NAME, "skipped_games": sorted(skipped), "groups": {}}
    for (agent, preset), table in by.items():
        games = sorted(table)
        m, k, _ = _matrix(table, games)
        ivs = interval_estimates(m, reps=reps, seed=seed)
        out["groups"][f"{agent}/{preset}"] = {
            "games": games,
            "runs_per_game": k,
            "per_game_hns": {g: float(np.mean(v)) for g, v in table.items()},
            **{n: {"value": iv.value, "ci": [iv.lo, iv.hi]} for n, iv in ivs.items()},
        }
    return out


# Baselines whose published per-game means the results tables show next to a run's scores:
# the world-model agents this project reimplements.
REPORT_BASELINES = ("iris", "diamond", "dreamerv3")


def hns_or_none(game: str, score: float | None) -> float | None:
    """HNS of ``score`` on ``game``, or None when the game has no reference scores."""
    if score is None or not normalization.has_reference(game):
        return None
    return float(normalization.human_normalized_score(game, score))


def published_game_means(game: str, names: Sequence[str] = REPORT_BASELINES) -> dict[str, float | None]:
    """``{baseline label: published mean raw score on game}`` (None when it has no such game)."""
    from wmbench_core.baselines import load_baseline

    key = normalization.canonical_game(game)
    out: dict[str, float | None] = {}
    for name in names:
        b = load_baseline(name)
        runs = b.raw.get(key) if key else None
        out[b.label] = float(np.mean(runs)) if runs else None
    return out


REPORT_HEADER = ["HNS", "IRIS", "DIAMOND", "DreamerV3"]  # labels of REPORT_BASELINES


def report_cells(game: str, mean_return: float | None) -> list[str]:
    """Cells for a results table row: the HNS of the mean return and the published per-game
    means of :data:`REPORT_BASELINES` (raw scores), "–" where undefined."""
    hns = hns_or_none(game, mean_return)
    published = published_game_means(game)
    return [_fmt(hns)] + [_raw_fmt(v) if v is not None else "–" for v in published.values()]


def hns_markdown_lines(document: dict[str, Any]) -> list[str]:
    """A Markdown section with the results document's HNS aggregates (``aggregate.hns``)."""
    hns = (document.get("aggregate") or {}).get("hns") or {}
    groups = hns.get("groups") or {}
    if not groups:
        return []
    lines = [
        "",
        "## Human-normalised aggregates",
        "",
        "95% percentile stratified-bootstrap CIs over runs x games; published baselines: `wmbench baselines`, "
        "`wmbench compare DIR --baselines iris,diamond,dreamerv3`.",
        "",
        "| agent/preset | games | runs/game | mean | median | IQM | optimality gap |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, g in groups.items():
        cells = []
        for metric in ("mean", "median", "iqm", "optimality_gap"):
            a = g.get(metric) or {}
            ci = a.get("ci") or [None, None]
            cells.append(f"{_fmt(a.get('value'))} [{_fmt(ci[0])}, {_fmt(ci[1])}]")
        lines.append(f"| {name} | {len(g['games'])} | {g['runs_per_game']} | " + " | ".join(cells) + " |")
    if hns.get("skipped_games"):
        lines += ["", f"No reference scores (not normalised): {', '.join(hns['skipped_games'])}"]
    return lines
