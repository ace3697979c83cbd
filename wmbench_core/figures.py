"""Figures of a comparison document (matplotlib, imported lazily; ``pip install wmbench[plots]``).

* ``aggregates``  — one panel per metric: point estimate and 95% CI bar per entry (rliable style)
* ``profiles``    — run-score performance profiles (fraction of runs with score > tau) with CI bands
* ``poi``         — probability of improvement P(X > Y) with CIs, 0.5 marked
* ``per_game``    — mean score per game and entry (symlog axis: HNS spans 0 to >10)
* ``learning_curves`` — training-episode return against env steps, one panel per game (mean over
  runs, band: min-max over runs); drawn only when the runs recorded training episodes
* ``sample_efficiency`` — IQM over runs and games of the training-episode scores against env
  steps, with 95% CI bands (rliable's sample-efficiency curve); drawn when there are curves

:func:`write_figures` saves each as PNG and/or SVG; :func:`summary_figure` puts all four in one.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

FIGURES = ("aggregates", "profiles", "poi", "per_game", "learning_curves", "sample_efficiency")
MIXED_MARK = "†"


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError("figures need matplotlib: pip install 'wmbench[plots]'") from exc
    return plt


def _colors(comp: dict[str, Any]) -> dict[str, Any]:
    plt = _plt()
    cmap = plt.get_cmap("tab10" if len(comp["entries"]) <= 10 else "tab20")
    return {e["label"]: cmap(i % cmap.N) for i, e in enumerate(comp["entries"])}


def _metric_title(name: str) -> str:
    return {"iqm": "IQM", "optimality_gap": "Optimality gap", "mean": "Mean", "median": "Median"}.get(
        name, name.replace("_", " ").capitalize()
    )


def _score_label(comp: dict[str, Any]) -> str:
    return "human-normalised score" if comp["score"] == "hns" else "raw score"


def _display(e: dict[str, Any]) -> str:
    return e["label"] + (MIXED_MARK if e.get("mixed_protocols") else "")


def plot_aggregates(document: dict[str, Any], axes: Any = None) -> Any:
    plt = _plt()
    comp = document["comparison"]
    names = [m["name"] for m in comp["metrics"] if any(m["name"] in e["aggregates"] for e in comp["entries"])]
    entries = comp["entries"]
    colors = _colors(comp)
    standalone = axes is None
    if axes is None:
        fig, axes = plt.subplots(
            1, len(names), figsize=(3.2 * len(names) + 1.5, 0.45 * len(entries) + 1.4), squeeze=False
        )  # noqa: E501
        axes = axes[0]
    else:
        fig = axes[0].figure
    ys = np.arange(len(entries))[::-1]
    for ax, name in zip(axes, names):
        for y, e in zip(ys, entries):
            a = e["aggregates"].get(name)
            if a is None:
                continue
            c = colors[e["label"]]
            if a.get("ci") and a["ci"][0] is not None:
                lo, hi = a["ci"]
                ax.barh(y, hi - lo, left=lo, height=0.6, color=c, alpha=0.75)
            ax.plot([a["value"]], [y], marker="|", markersize=14, mew=2.5, color="black")
        ax.set_title(_metric_title(name), fontsize=11)
        ax.xaxis.set_major_locator(plt.MaxNLocator(3))  # few ticks: neighbouring panels never collide
        ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
        ax.set_yticks(ys)
        ax.set_yticklabels([_display(e) for e in entries] if ax is axes[0] else [])
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.tick_params(axis="y", length=0)
    if standalone:
        fig.supxlabel(f"{_score_label(comp)} (95% CI)", fontsize=10)
        fig.tight_layout(w_pad=2.0)
    else:
        axes[0].set_xlabel(f"{_score_label(comp)} (95% CI)", fontsize=9)
    return fig


def plot_profiles(document: dict[str, Any], ax: Any = None, kind: str = "run") -> Any:
    plt = _plt()
    comp = document["comparison"]
    prof = comp["profiles"]
    taus = np.asarray(prof["taus"])
    colors = _colors(comp)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
    else:
        fig = ax.figure
    for e in comp["entries"]:
        p = prof[kind][e["label"]]
        c = colors[e["label"]]
        ax.plot(taus, p["value"], color=c, lw=2, label=_display(e))
        lo = np.array([np.nan if v is None else v for v in p["lo"]], dtype=float)
        hi = np.array([np.nan if v is None else v for v in p["hi"]], dtype=float)
        ax.fill_between(taus, lo, hi, color=c, alpha=0.2, lw=0)
    word = "runs" if kind == "run" else "games (run mean)"
    ax.set_xlabel(f"{_score_label(comp)} threshold τ")
    ax.set_ylabel(f"fraction of {word} with score > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(taus[0], taus[-1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Performance profiles (95% CI bands)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_poi(document: dict[str, Any], ax: Any = None) -> Any:
    plt = _plt()
    comp = document["comparison"]
    pois = comp["poi"]
    colors = _colors(comp)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 0.45 * max(len(pois), 1) + 1.4))
    else:
        fig = ax.figure
    ys = np.arange(len(pois))[::-1]
    for y, p in zip(ys, pois):
        c = colors.get(p["y"], "grey")
        if p["ci"][0] is not None:
            ax.barh(y, p["ci"][1] - p["ci"][0], left=p["ci"][0], height=0.6, color=c, alpha=0.75)
        ax.plot([p["value"]], [y], marker="|", markersize=14, mew=2.5, color="black")
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"P({p['x']} > {p['y']})" + (MIXED_MARK if p.get("mixed_protocols") else "") for p in pois])
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of improvement (95% CI)")
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_title("Probability of improvement", fontsize=11)
    fig.tight_layout()
    return fig


def plot_per_game(document: dict[str, Any], ax: Any = None) -> Any:
    plt = _plt()
    comp = document["comparison"]
    entries = comp["entries"]
    # With result entries, show the games they were run on (baselines cover all 26).
    ours = [e for e in entries if e["kind"] == "results"]
    games = sorted(set().union(*(e["per_game"] for e in ours))) if ours else comp["all_games"]
    colors = _colors(comp)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.5, 0.055 * len(games) * (len(entries) + 3) + 1.2))
    else:
        fig = ax.figure
    height = 0.8 / len(entries)
    ys = np.arange(len(games))[::-1]
    for i, e in enumerate(entries):
        vals = [e["per_game"][g]["score_mean"] if g in e["per_game"] else np.nan for g in games]
        ax.barh(ys + 0.4 - (i + 0.5) * height, vals, height=height, color=colors[e["label"]], label=_display(e))
    ax.set_yticks(ys)
    ax.set_yticklabels(games)
    if comp["score"] == "hns":
        from matplotlib.ticker import FixedLocator, FormatStrFormatter

        ax.set_xscale("symlog", linthresh=1.0)
        lo = min(0.0, np.nanmin([pg["score_mean"] for e in entries for pg in e["per_game"].values()]))
        ticks = [t for t in (-1, -0.5, 0, 0.25, 0.5, 1, 2, 5, 10, 20, 50) if t >= lo - 0.5]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.axvline(1.0, color="grey", ls="--", lw=1)
        ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel(
        f"mean {_score_label(comp)} per game" + (" (symlog; dashed: human)" if comp["score"] == "hns" else "")
    )
    ax.grid(axis="x", alpha=0.3)
    ax.set_ylim(-0.6, len(games) - 0.4)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Per-game scores", fontsize=11)
    fig.tight_layout()
    return fig


def _curve(ax: Any, x: list[float], c: dict[str, Any], keys: tuple[str, str, str], label: str, color: Any,
           band: bool) -> None:  # fmt: skip
    """A line with markers and, if ``band``, a shaded band; ``keys`` name the line and band
    lists in ``c`` (None where there is no value)."""
    line, lo, hi = (np.array([np.nan if v is None else v for v in c[k]], dtype=float) for k in keys)
    ax.plot(x, line, color=color, lw=1.8, marker=".", ms=4, label=label)
    if band:
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)


def _steps_axis(plt: Any, ax: Any) -> None:
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))


def plot_learning_curves(document: dict[str, Any]) -> Any:
    plt = _plt()
    comp = document["comparison"]
    curves = comp.get("learning_curves") or {}
    colors = _colors(comp)
    games = sorted(curves)
    cols = min(3, len(games))
    rows = -(-len(games) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows + 0.6), squeeze=False)
    for ax, game in zip(axes.flat, games):
        x = curves[game]["env_step"]
        for label, c in curves[game]["entries"].items():
            runs = f"{c['runs']} run" + ("s" if c["runs"] != 1 else "")
            _curve(ax, x, c, ("mean", "lo", "hi"), f"{label} ({runs})", colors.get(label, "grey"), c["runs"] > 1)
        ax.set_title(game, fontsize=10)
        _steps_axis(plt, ax)
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(games):]:
        ax.set_visible(False)
    fig.supxlabel("env steps (agent steps, 4 frames each)", fontsize=10)
    fig.supylabel("training episode return (raw)", fontsize=10)
    fig.suptitle("Learning curves (mean over runs; band: min-max over runs)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_sample_efficiency(document: dict[str, Any]) -> Any:
    plt = _plt()
    comp = document["comparison"]
    eff = comp["sample_efficiency"]
    colors = _colors(comp)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, e in eff["entries"].items():
        runs = f"{e['runs']} run" + ("s" if e["runs"] != 1 else "")
        _curve(ax, eff["env_step"], e, ("iqm", "lo", "hi"), f"{label} ({runs}/game)", colors.get(label, "grey"), True)
    _steps_axis(plt, ax)
    ax.set_xlabel("env steps (agent steps, 4 frames each)")
    ax.set_ylabel(f"IQM of training {_score_label(comp)}")
    ax.set_title(f"Sample efficiency over {len(eff['games'])} game(s) (band: 95% CI)", fontsize=11)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


PLOTTERS = {"aggregates": plot_aggregates, "profiles": plot_profiles, "poi": plot_poi, "per_game": plot_per_game,
            "learning_curves": plot_learning_curves, "sample_efficiency": plot_sample_efficiency}  # fmt: skip


def has_figure(document: dict[str, Any], name: str) -> bool:
    """Whether ``document`` has data for figure ``name`` (PoI needs two entries, learning and
    sample-efficiency curves runs that recorded training episodes)."""
    comp = document["comparison"]
    if name == "poi":
        return bool(comp["poi"])
    if name == "learning_curves":
        return bool(comp.get("learning_curves"))
    if name == "sample_efficiency":
        return bool((comp.get("sample_efficiency") or {}).get("entries"))
    return True


def summary_figure(document: dict[str, Any]) -> Any:
    """All four figures in one (for the single-file ``png``/``svg`` exporters)."""
    plt = _plt()
    comp = document["comparison"]
    names = [m["name"] for m in comp["metrics"] if any(m["name"] in e["aggregates"] for e in comp["entries"])]
    ours = [e for e in comp["entries"] if e["kind"] == "results"]
    n_games = len(set().union(*(e["per_game"] for e in ours))) if ours else len(comp["all_games"])
    fig = plt.figure(figsize=(max(14, 3.2 * len(names)), 9 + 0.25 * n_games))
    grid = fig.add_gridspec(3, max(len(names), 2), height_ratios=[1, 1.3, 0.4 + 0.08 * n_games])
    agg_axes = [fig.add_subplot(grid[0, i]) for i in range(len(names))]
    plot_aggregates(document, axes=agg_axes)
    half = max(len(names), 2) // 2
    plot_profiles(document, ax=fig.add_subplot(grid[1, :half]))
    plot_poi(document, ax=fig.add_subplot(grid[1, half:]))
    plot_per_game(document, ax=fig.add_subplot(grid[2, :]))
    fig.tight_layout()
    return fig


def write_figures(document: dict[str, Any], out_dir: str | Path, formats: Iterable[str] = ("png", "svg")) -> list[Path]:
    """Save every figure as ``out_dir/<name>.<fmt>``; returns the paths."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, plot in PLOTTERS.items():
        if not has_figure(document, name):
            continue
        fig = plot(document)
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            fig.savefig(path, dpi=150 if fmt == "png" else None, bbox_inches="tight")
            paths.append(path)
        plt.close(fig)
    return paths


def figure_bytes(document: dict[str, Any], name: str, fmt: str = "png") -> bytes:
    """One figure rendered in memory (the HTML report embeds these)."""
    import io

    plt = _plt()
    fig = PLOTTERS[name](document)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
