"""A run directory's logs: ``metrics.csv`` (one row per event) and TensorBoard events."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tensorboardX import SummaryWriter

from dynaworld.files import append_text, atomic_write, check_target

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
    "model_loss",
    "model_updates",
)
MODEL_ERROR_COLUMNS = ("env_steps", "k", "frame_error", "reward_error")
# one-step: held-out terminal transitions used, fraction predicted terminal, and the fraction of
# as many held-out non-terminal ones predicted terminal
TERMINATION_ERROR_COLUMNS = ("env_steps", "terminals", "recall", "false_alarm")


class CsvLog:
    """An append-only CSV whose rows after ``resume_step`` are dropped when a crashed run resumes."""

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        resume_step: int | None = None,
        step_key: str = "env_steps",
    ) -> None:
        self.path, self.columns = path, list(columns)
        rows: list[dict[str, Any]] = []
        if resume_step is not None and path.exists():
            with open(path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(float(r[step_key])) <= resume_step]
        with atomic_write(path, "w", newline="") as f:
            w = csv.DictWriter(f, self.columns)
            w.writeheader()
            w.writerows(rows)
        self._file = append_text(path)
        self._csv = csv.DictWriter(self._file, self.columns)

    def write(self, row: dict[str, Any]) -> None:
        unknown = set(row) - set(self.columns)
        if unknown:
            raise KeyError(f"metrics {sorted(unknown)} are not columns of {self.path}")
        self._csv.writerow(row)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def tag(metric: str) -> str:
    """TensorBoard's group of a metrics.csv column: eval/, model/, or train/."""
    if metric.startswith("eval_"):
        return f"eval/{metric.removeprefix('eval_')}"
    if metric.startswith("model_"):
        return f"model/{metric.removeprefix('model_')}"
    return f"train/{metric}"


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
        self.resume_step = resume_step
        self.csv = CsvLog(self.dir / "metrics.csv", columns, resume_step)
        self.extra: dict[str, CsvLog] = {}
        self.tb = None
        if tensorboard:
            check_target(self.dir / "tensorboard", self.dir)  # never a link to elsewhere
            self.tb = SummaryWriter(
                str(self.dir / "tensorboard"), purge_step=resume_step, flush_secs=30
            )

    def log(self, step: int, values: dict[str, Any]) -> None:
        self.csv.write({"env_steps": step, **values})
        if self.tb is not None:
            for k, v in values.items():
                # NaN = "not measured yet" (e.g. a GP's loss before its first fit): CSV only
                if k != "env_steps" and v is not None and v == v:
                    self.tb.add_scalar(tag(k), v, step)

    def table(self, name: str, columns: Sequence[str], row: dict[str, Any]) -> None:
        """A row of another CSV in the run directory (e.g. model_error.csv)."""
        if name not in self.extra:
            self.extra[name] = CsvLog(self.dir / name, columns, self.resume_step)
        self.extra[name].write(row)

    def flush(self) -> None:
        self.csv.flush()
        for t in self.extra.values():
            t.flush()
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        self.flush()
        self.csv.close()
        for t in self.extra.values():
            t.close()
        if self.tb is not None:
            self.tb.close()


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    with atomic_write(path, "w") as f:
        f.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def reached(run_dir: str | Path) -> int:
    """The last step a run logged (metrics.csv's last line; 0 before any): cheap enough to poll."""
    try:
        with open(Path(run_dir) / "metrics.csv", "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = f.read().split(b"\n")
        return int(float(lines[-2].split(b",")[0])) if len(lines) > 2 else 0
    except (OSError, ValueError):
        return 0


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    """metrics.csv as a list of rows (empty cells dropped)."""
    return [
        {k: float(v) for k, v in r.items() if v not in ("", None)}
        for r in read_csv(Path(run_dir) / "metrics.csv")
    ]
