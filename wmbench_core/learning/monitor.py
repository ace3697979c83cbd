"""Training progress, loss curves and the non-finite-loss guard, for every agent's train loop.

    monitor = TrainingMonitor(progress, work_dir, total_env_steps=env_steps)
    ...
    monitor.log(env_step, {"wm/loss": 1.2, "actor/entropy": 0.7})   # checks, logs, reports

Losses go to ``work_dir/losses.csv`` (one row per call, columns added as new keys appear: the
file is rewritten atomically with the wider header when that happens) and to TensorBoard when the
``tensorboard`` package is installed. A session that finds ``losses.csv`` already there (a job
resumed from its checkpoint) continues it: the earlier rows stay, the new ones follow (an
unreadable file is kept aside as ``losses.csv.bak``). A NaN or inf stops training with
:class:`NonFiniteLossError` naming the loss and the step.
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

from wmbench_core.agent import Progress


class NonFiniteLossError(FloatingPointError):
    pass


def check_finite(metrics: dict[str, Any], step: int) -> None:
    for name, value in metrics.items():
        v = float(value)
        if not math.isfinite(v):
            raise NonFiniteLossError(f"loss {name!r} is {v} at env step {step}")


class TrainingMonitor:
    def __init__(
        self,
        progress: Progress | None,
        work_dir: Path | None,
        total_env_steps: int,
        description: str = "training",
        tensorboard: bool = True,
    ) -> None:
        self.progress = progress or Progress()
        self.progress.start(total_env_steps, description)
        self.csv_path = work_dir / "losses.csv" if work_dir is not None else None
        self._columns: list[str] = []
        self._rows: list[dict[str, Any]] = []
        self._tb = None
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)
            self._continue_csv()
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(work_dir / "tensorboard"))
                except Exception:  # noqa: BLE001 - TensorBoard is optional
                    self._tb = None
        self._t0 = time.perf_counter()
        self._updates = 0

    def _continue_csv(self) -> None:
        """Take over the header and rows of an existing ``losses.csv`` (a resumed job's curve)."""
        from wmbench_core.results import unused_path

        path = self.csv_path
        assert path is not None
        try:
            text = path.read_text()
            reader = csv.DictReader(io.StringIO(text))
            self._columns, self._rows = list(reader.fieldnames or []), list(reader)
        except FileNotFoundError:
            return
        except (OSError, ValueError, csv.Error):  # not ours to overwrite: keep it aside
            path.replace(unused_path(path.with_name(path.name + ".bak")))
            self._columns, self._rows = [], []
            return
        if text and not text.endswith("\n"):  # a row cut short by a kill: end it before appending
            with open(self.csv_path, "a", newline="") as fh:
                fh.write("\n")

    def count_updates(self, n: int = 1) -> None:
        self._updates += n

    @property
    def updates_per_second(self) -> float:
        return self._updates / max(time.perf_counter() - self._t0, 1e-9)

    def log(self, env_step: int, metrics: dict[str, Any] | None = None) -> None:
        metrics = {k: float(v) for k, v in (metrics or {}).items()}
        check_finite(metrics, env_step)
        shown = dict(metrics)
        if self._updates:
            shown["updates/s"] = self.updates_per_second
        self.progress.update(env_step, shown)
        if metrics:
            self._write(env_step, metrics)

    def _write(self, env_step: int, metrics: dict[str, float]) -> None:
        row = {"env_step": env_step, "wall_time": round(time.perf_counter() - self._t0, 3)}
        row.update(metrics)
        self._rows.append(row)
        if self._tb is not None:
            for k, v in metrics.items():
                self._tb.add_scalar(k, v, env_step)
        if self.csv_path is None:
            return
        new = [k for k in row if k not in self._columns]
        if new:
            from wmbench_core.results import atomic_write_text

            self._columns += new
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=self._columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(self._rows)
            atomic_write_text(self.csv_path, buf.getvalue())  # a kill mid-rewrite keeps the old curve
        else:
            with open(self.csv_path, "a", newline="") as fh:
                csv.DictWriter(fh, fieldnames=self._columns).writerow(row)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        self.progress.stop()
