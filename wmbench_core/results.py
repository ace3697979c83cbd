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
versions, status ("ok" | "failed"), error, traceback, started, finished, host``, and
``train_episodes`` (the learning curve: ``{"env_step": [...], "return": [...], "length": [...]}``,
one entry per training episode; :mod:`wmbench_core.envs.episode_log`).
The latest record of a job wins (a failed job re-run by ``--resume`` replaces its failure).

Reading is defensive: a line of ``runs.jsonl`` (or a run of a results document) that is not a
valid record (:func:`record_problem`) is skipped with one warning line naming the file and line;
runs the results document holds that ``runs.jsonl`` lacks (a torn or edited file, a dir holding
only the document) are kept, and written back into ``runs.jsonl`` before the document is rebuilt.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

RUNS_FILE = "runs.jsonl"
DOCUMENT_FILE = "benchmark_results.json"


def job_id(agent: str, preset: str | None, game: str, seed: int) -> str:
    return f"{agent}|{preset or 'default'}|{game}|{seed}"


_warned: set[str] = set()


def warn(message: str) -> None:
    """One line on stderr, once per process (a run dir is read many times per command)."""
    if message not in _warned:
        _warned.add(message)
        print(f"wmbench: warning: {message}", file=sys.stderr, flush=True)


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


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file + rename: readers see the old or the new file."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # os.open with 0o666 lets the umask apply, as for any file (mkstemp would give 0600)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
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


def ensure_writable_dir(path: str | Path, what: str = "out dir") -> Path:
    """Create ``path`` and check that files can be written there, before any work is done.
    Raises PermissionError("cannot write to <what> '<path>': <reason>")."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".wmbench-write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise PermissionError(f"cannot write to {what} {str(path)!r}: {exc.strerror or exc}") from None
    return path


# -- reading records: validated in one place --------------------------------------------------
def _is_number(x: Any) -> bool:
    """A JSON number that statistics can use (finite as a float)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an integer too large for a float
        return False


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


_NUMERIC_FIELDS = ("mean_return", "wall_time", "train_time", "eval_time", "env_steps_trained")


def record_problem(record: Any) -> str | None:
    """Why ``record`` is not a job record the commands can use (None when it is).

    Checks the fields that reports, statistics, ``status`` and ``--resume`` rely on: a record
    that passes cannot make them fail."""
    if not isinstance(record, dict):
        return f"a JSON {_json_type(record)}, not an object"
    if not isinstance(record.get("job_id"), str) or not record["job_id"]:
        return "no job_id"
    for key in ("agent", "game"):
        if not isinstance(record.get(key), str) or not record[key]:
            return f"{key} is missing or not a string"
    if not _is_int(record.get("seed")):
        return f"seed {record.get('seed')!r} is not an integer"
    for key, kind, name in (("preset", str, "string"), ("status", str, "string"), ("protocol", dict, "object"),
                            ("episode_lengths", list, "list")):  # fmt: skip
        if record.get(key) is not None and not isinstance(record[key], kind):
            return f"{key} is not a {name}"
    returns = record.get("episode_returns")
    if returns is not None and (not isinstance(returns, list) or not all(map(_is_number, returns))):
        return "episode_returns is not a list of finite numbers"
    for key in _NUMERIC_FIELDS:
        if record.get(key) is not None and not _is_number(record[key]):
            return f"{key} is not a number"
    if "attempts" in record and not _is_int(record["attempts"]):
        return "attempts is not an integer"
    if record.get("train_episodes") is not None:
        return _curve_problem(record["train_episodes"])
    return None


def _curve_problem(curve: Any) -> str | None:
    """Why a record's ``train_episodes`` (the learning curve) is unusable (None: it is fine)."""
    columns = ("env_step", "return", "length")
    if not isinstance(curve, dict) or not all(isinstance(curve.get(c), list) for c in columns):
        return f"train_episodes is not an object of lists {', '.join(columns)}"
    if len({len(curve[c]) for c in columns}) != 1:
        return "train_episodes has lists of different lengths"
    if not (all(map(_is_int, curve["env_step"])) and all(map(_is_number, curve["return"]))
            and all(map(_is_int, curve["length"]))):  # fmt: skip
        return "train_episodes holds values that are not finite numbers"
    return None


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _warn_skipped(path: Path, what: str, bad: list[tuple[str, str]]) -> None:
    if bad:
        shown = ", ".join(f"{where} ({why})" for where, why in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        warn(f"{path}: skipped {len(bad)} bad {what}: {shown}{more}")


def read_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """All valid records of ``runs.jsonl``, in file order. A line that is not a valid record is
    skipped with one warning line naming the file and line; a torn last line (no newline: a
    writer killed mid-line, or one still writing) is skipped quietly."""
    path = Path(out_dir) / RUNS_FILE
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    records, bad = [], []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError, JSONDecodeError
            if number == len(lines):  # no newline after it: torn (or being written): not a record yet
                continue
            problem: str | None = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "not valid JSON"
        else:
            problem = record_problem(record)
        if problem:
            bad.append((f"line {number}", problem))
        else:
            records.append(record)
    _warn_skipped(path, "line(s)", bad)
    return records


def latest_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per job id, the latest, in first-seen order."""
    latest: dict[str, dict[str, Any]] = {}
    for r in records:
        latest[r["job_id"]] = r
    return list(latest.values())


def _read_document(path: Path) -> tuple[dict[str, Any], int]:
    """A results document file with only its valid runs (the last one per job id), and the
    number of invalid runs. Raises ValueError (naming the file) when it is not a results document."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r} is not a wmbench results document (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{str(path)!r} is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("runs"), list):
        found = f"a JSON {_json_type(doc)}" if not isinstance(doc, dict) else "an object without a 'runs' list"
        raise ValueError(f"{str(path)!r} is not a wmbench results document ({found}; expected an object "
                         "with a 'runs' list, as benchmark_results.json)")  # fmt: skip
    runs, bad = [], []
    for i, r in enumerate(doc["runs"]):
        problem = record_problem(r)
        if problem:
            bad.append((f"runs[{i}]", problem))
        else:
            runs.append(r)
    _warn_skipped(path, "run(s)", bad)
    latest = latest_records(runs)
    if len(latest) < len(runs):
        warn(f"{path}: {len(runs) - len(latest)} run(s) repeat a job id; the last of each job is used")
    return {**doc, "runs": latest}, len(bad)


def record_fingerprint(record: dict[str, Any]) -> str:
    """Equal for records with the same content (key order aside)."""
    return json.dumps(record, sort_keys=True)


def _finished(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(record.get("finished")), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def lost_records(records: list[dict[str, Any]], document_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of a results document that ``records`` (of ``runs.jsonl``) lack: not there and
    not superseded by a later record of the same job. The document was built from ``runs.jsonl``
    and that file only grows, so such a run was lost from it (or never written to it)."""
    have = {record_fingerprint(r) for r in records}
    latest = {r["job_id"]: r for r in records}
    lost = []
    for r in document_runs:
        if record_fingerprint(r) in have:
            continue
        current = latest.get(r["job_id"])
        if current is not None:
            mine, theirs = _finished(r), _finished(current)
            if mine is None or theirs is None or mine <= theirs:
                continue  # runs.jsonl holds a record of the job at least as new: the latest wins
        lost.append(r)
    return lost


def run_dir_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """The latest record of each job of a run dir: ``runs.jsonl`` plus the runs only its results
    document holds (warned about; written back into ``runs.jsonl`` by the next write)."""
    out = Path(out_dir)
    records = read_records(out)
    lost: list[dict[str, Any]] = []
    if (out / DOCUMENT_FILE).is_file():
        try:
            lost = lost_records(records, _read_document(out / DOCUMENT_FILE)[0]["runs"])
        except (OSError, ValueError) as exc:
            warn(f"{str(exc).splitlines()[0]}; using {RUNS_FILE} alone")
    if lost:
        _warn_lost(out, lost)
    return latest_records(records + lost)


def _warn_lost(out_dir: Path, lost: list[dict[str, Any]]) -> None:
    # the same line when a read-only command uses them and when a writer writes them back
    ids = [r["job_id"] for r in lost]
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    warn(f"{out_dir / DOCUMENT_FILE} holds {len(lost)} run(s) missing from {RUNS_FILE} ({shown}): they are kept "
         f"({RUNS_FILE} gets them back when the run dir is next written)")  # fmt: skip


class ResultsStore:
    """Append-only job records plus the atomically rewritten results document."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)

    def prepare(self) -> None:
        """Create the directory and check that it is writable (fails before any work is done)."""
        ensure_writable_dir(self.out_dir, "out dir")

    @property
    def runs_path(self) -> Path:
        return self.out_dir / RUNS_FILE

    @property
    def document_path(self) -> Path:
        return self.out_dir / DOCUMENT_FILE

    def _append_lines(self, records: list[dict[str, Any]]) -> None:
        data = "".join(dumps(r) + "\n" for r in records).encode()
        with open(self.runs_path, "a+b") as fh:
            # A writer killed mid-line leaves a torn last line without its newline: end it, or
            # this record would be glued to it and lost with it.
            size = fh.seek(0, os.SEEK_END)
            if size:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")  # "a" mode: writes go to the end whatever the position
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def append(self, record: dict[str, Any]) -> None:
        self._append_lines([record])  # first: the finished job is safe whatever happens next
        self.write_document()

    def records(self) -> list[dict[str, Any]]:
        return run_dir_records(self.out_dir)

    def finished_job_ids(self) -> set[str]:
        return {r["job_id"] for r in self.records() if r.get("status") == "ok"}

    def document(self) -> dict[str, Any]:
        return build_document(self.records())

    def recover(self) -> list[dict[str, Any]]:
        """Make ``runs.jsonl`` hold every run of the results document before the document is
        rebuilt from it (nothing the document holds is dropped), and return its records. A
        document that cannot be read in full is kept under another name, with a warning."""
        records = read_records(self.out_dir)
        path = self.document_path
        if not path.is_file():
            return records
        doc: dict[str, Any] | None = None
        try:
            doc, invalid = _read_document(path)
            problem = f"{path} holds {invalid} run(s) that are not valid records" if invalid else None
        except (OSError, ValueError) as exc:
            problem = str(exc).splitlines()[0]
        if problem:  # rewriting it would lose what it holds: keep it aside
            backup = unused_path(path.with_name(path.name + ".bak"))
            os.replace(path, backup)
            warn(f"{problem}; kept it as {backup.name} before rebuilding it from {RUNS_FILE}")
        if doc is not None:
            lost = lost_records(records, doc["runs"])
            if lost:
                self._append_lines(lost)
                _warn_lost(self.out_dir, lost)
                records += lost
        return records

    def write_document(self) -> dict[str, Any]:
        doc = build_document(latest_records(self.recover()))
        atomic_write_text(self.document_path, dumps(doc, indent=2))
        return doc


def unused_path(path: Path) -> Path:
    """``path``, or ``path.1``, ``path.2``, ... whichever does not exist yet."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


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
    """The results document of a run dir (rebuilt from its records, :func:`run_dir_records`) or
    of a results document file. Raises FileNotFoundError / ValueError (one line, naming the file)."""
    path = Path(path)
    if path.is_dir():
        if (path / RUNS_FILE).is_file():
            return build_document(run_dir_records(path))
        path = path / DOCUMENT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no wmbench results in {str(path)!r} (expected {RUNS_FILE} or {DOCUMENT_FILE})")
    return _read_document(path)[0]
