"""A run directory's logs: ``metrics.csv`` (one row per event) and TensorBoard events."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = (
    "env_steps",
    "agent_updates",
    "model_transitions",
    "wall_time_s",
    "steps_per_s",
    "episode_return",
    "episode_length",
    "train_return_100",
    "eval_return_mean",
    "eval_return_std",
    "loss",
    "q_mean",
    "epsilon",
)


class RunLogger:
    """Appends rows to ``metrics.csv`` and scalars to TensorBoard.

    ``resume_step`` drops what a crashed run logged after its last checkpoint (the resumed run logs
    those steps again), in the CSV and in TensorBoard (``purge_step``).
    """

    def __init__(
        self,
        run_dir: str | Path,
        columns: Sequence[str] = COLUMNS,
        resume_step: int | None = None,
        tensorboard: bool = True,
    ) -> None:
        self.dir = Path(run_dir)
        self.columns = list(columns)
        self.csv_path = self.dir / "metrics.csv"
        if resume_step is not None and self.csv_path.exists():
            with open(self.csv_path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(float(r["env_steps"])) <= resume_step]
            self._rewrite(rows)
        elif not self.csv_path.exists() or resume_step is None:
            self._rewrite([])
        self._file = open(self.csv_path, "a", newline="")
        self._csv = csv.DictWriter(self._file, self.columns)
        self.tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(
                str(self.dir / "tensorboard"), purge_step=resume_step, flush_secs=30
            )

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        tmp = self.csv_path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, self.columns)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.csv_path)

    def log(self, step: int, values: dict[str, Any]) -> None:
        unknown = set(values) - set(self.columns)
        if unknown:
            raise KeyError(f"metrics {sorted(unknown)} are not columns of {self.csv_path}")
        self._csv.writerow({"env_steps": step, **values})
        if self.tb is not None:
            for k, v in values.items():
                if k != "env_steps" and v is not None:
                    self.tb.add_scalar(k, v, step)

    def flush(self) -> None:
        self._file.flush()
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self.tb is not None:
            self.tb.close()


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    p = Path(path)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, p)


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """metrics.csv as a list of rows (empty cells dropped)."""
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        return [
            {k: float(v) for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(f)
        ]
