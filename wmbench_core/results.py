"""The results store: nothing finished is ever lost.

A run directory holds:

* ``runs.jsonl`` — one JSON record per finished (agent, preset, game, seed) job, appended the
  moment the job ends (flush + fsync). This is the source of truth: a crash or kill loses at
  most the jobs in flight, and ``--resume`` skips every job already recorded as ``ok``.
* ``benchmark_results.json`` — the results document (``{"wmbench_version", "updated",
  "runs": [...], "aggregate": {...}}``), rebuilt from ``runs.jsonl`` after each job and
  written atomically (temp file + rename).
* the exported formats (``benchmark_results.csv/.md/.tex``, ...) and ``jobs/<job>/`` work dirs
  (loss curves, checkpoints).

Record fields: ``job_id, agent, plugin, plugin_version, preset, config, game, env_id, seed,
protocol, train_steps, env_steps_trained, checkpoint, episodes, episode_returns,
episode_lengths, mean_return, train_time, eval_time, wall_time, device, wmbench_version,
versions, status ("ok" | "failed"), error, traceback, started, finished, host``.
The latest record of a job wins (a failed job re-run by ``--resume`` replaces its failure).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

RUNS_FILE = "runs.jsonl"
DOCUMENT_FILE = "benchmark_results.json"


def job_id(agent: str, preset: str | None, game: str, seed: int) -> str:
    return f"{agent}|{preset or 'default'}|{game}|{seed}"


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def _sanitize(value: Any) -> Any:
    """JSON has no NaN/inf: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(v) for v in value]
    return value


def dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(_sanitize(obj), default=_json_default, **kwargs)


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """All records of ``runs.jsonl``; a torn last line (killed mid-write) is ignored."""
    path = Path(out_dir) / RUNS_FILE
    if not path.is_file():
        return []
    records = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def latest_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per job id, the latest, in first-seen order."""
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        latest[r["job_id"]] = r
    return list(latest.values())


class ResultsStore:
    """Append-only job records plus the atomically rewritten results document."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)

    def prepare(self) -> None:
        """Create the directory and check that it is writable (fails before any work is done)."""
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            probe = self.out_dir / ".wmbench-write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise PermissionError(
                f"cannot write to out dir {str(self.out_dir)!r}: {exc.strerror or exc}"
            ) from None

    @property
    def runs_path(self) -> Path:
        return self.out_dir / RUNS_FILE

    @property
    def document_path(self) -> Path:
        return self.out_dir / DOCUMENT_FILE

    def append(self, record: dict[str, Any]) -> None:
        line = dumps(record) + "\n"
        with open(self.runs_path, "a+b") as fh:
            # A writer killed mid-line leaves a torn last line without its newline: end it, or
            # this record would be glued to it and lost with it.
            size = fh.seek(0, os.SEEK_END)
            if size:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")  # "a" mode: writes go to the end whatever the position
            fh.write(line.encode())
            fh.flush()
            os.fsync(fh.fileno())
        self.write_document()

    def records(self) -> list[dict[str, Any]]:
        return latest_records(read_records(self.out_dir))

    def finished_job_ids(self) -> set[str]:
        return {r["job_id"] for r in self.records() if r.get("status") == "ok"}

    def document(self) -> dict[str, Any]:
        return build_document(self.records())

    def write_document(self) -> dict[str, Any]:
        doc = self.document()
        atomic_write_text(self.document_path, dumps(doc, indent=2))
        return doc


def build_document(records: list[dict[str, Any]]) -> dict[str, Any]:
    from wmbench_core import __version__

    return {
        "format": "wmbench-results/1",
        "wmbench_version": __version__,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": records,
        "aggregate": aggregate(records),
    }


def aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per (agent, preset, game): per-seed means, mean, median, IQM and its bootstrap CI.

    ``per_seed_means`` is the list of per-seed mean returns when the document holds one
    (agent, preset, game) group (the earlier harness's shape), otherwise a dict keyed
    ``"agent/preset/game"``. ``groups`` always holds the full breakdown.
    """
    from wmbench_core.metrics import compute_aggregate_metrics

    by_group: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok" and r.get("episode_returns"):
            by_group[(r["agent"], r.get("preset") or "default", r["game"])].append(r)
    groups = []
    for (agent, preset, game), rs in by_group.items():
        rs = sorted(rs, key=lambda r: r["seed"])
        means = [float(sum(r["episode_returns"]) / len(r["episode_returns"])) for r in rs]
        stats = compute_aggregate_metrics(means)
        groups.append(
            {"agent": agent, "preset": preset, "game": game, "seeds": [r["seed"] for r in rs],
             "per_seed_means": means, "episodes": sum(len(r["episode_returns"]) for r in rs),
             **stats}  # fmt: skip
        )
    failed = [r["job_id"] for r in records if r.get("status") != "ok"]
    out: dict[str, Any] = {"groups": groups, "num_ok": sum(len(v) for v in by_group.values()),
                           "num_failed": len(failed), "failed_jobs": failed}  # fmt: skip
    try:  # human-normalised aggregates with CIs (wmbench_core.compare); never costs the document
        from wmbench_core.compare import hns_summary

        out["hns"] = hns_summary(records)
    except Exception as exc:  # noqa: BLE001
        out["hns"] = {"error": f"{type(exc).__name__}: {exc}"}
    if len(groups) == 1:
        g = groups[0]
        out.update({k: g[k] for k in ("per_seed_means", "mean", "median", "iqm", "iqm_ci", "std")})
    else:
        out["per_seed_means"] = {f"{g['agent']}/{g['preset']}/{g['game']}": g["per_seed_means"] for g in groups}
    return out


def load_document(path: str | Path) -> dict[str, Any]:
    """The results document of a run dir (rebuilt from ``runs.jsonl`` when present) or file."""
    path = Path(path)
    if path.is_dir():
        if (path / RUNS_FILE).is_file():
            return build_document(latest_records(read_records(path)))
        path = path / DOCUMENT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no wmbench results in {str(path)!r} (expected {RUNS_FILE} or {DOCUMENT_FILE})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
