"""Many seeds as one program: ``train_seeds`` runs N configs that differ only in their seed.

Each seed is a run of its own (folder, config, metrics, evaluation, checkpoints, summary) trained
by ``training.train`` in a thread; their DQN agents are stacked into one ``SeedBatch`` so that
action choice and UPDATEAGENT are one batched computation for all N (``agents.seedbatch``).
Settings whose loop draws from torch's global generator (learned models) are not batched:
``batch_refusal`` says why, and ``dynaworld sweep`` runs those seeds one by one.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from dynaworld import checkpoint as ckpt
from dynaworld.agents.seedbatch import Lockstep, SeedsStopped, lockstep_for
from dynaworld.config import TrainConfig, flatten, refuse_inert, to_dict
from dynaworld.errors import ConfigError, DynaworldError, Interrupted
from dynaworld.files import append_text
from dynaworld.interrupt import stop_on_interrupt
from dynaworld.progress import progress_bar
from dynaworld.registry import model_spec
from dynaworld.resume import finished_summary, resume_changes
from dynaworld.training import train

OWN = ("seed", "name")  # what the seeds of one batched run may differ in (a sweep names each run)


def batch_refusal(cfgs: Sequence[TrainConfig]) -> str | None:
    """Why ``cfgs`` cannot run as one batched program (None: they can)."""
    if len(cfgs) < 2:
        return "one seed"
    first = {k: v for k, v in flatten(to_dict(cfgs[0])).items() if k not in OWN}
    for c in cfgs[1:]:
        other = {k: v for k, v in flatten(to_dict(c)).items() if k not in OWN}
        diff = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if diff:
            return f"the seeds' configs differ in {diff[0]}"
    if len({c.seed for c in cfgs}) != len(cfgs):
        return "two seeds are the same"
    spec = model_spec(cfgs[0].planning.model)
    if spec.plan == "rollouts" and not spec.simulator:
        return f"planning.model={cfgs[0].planning.model} learns with torch's global generator"
    return None


def start_step(d: Path) -> int:
    """The step a run in ``d`` would start from (0: new, or no checkpoint yet)."""
    latest = ckpt.latest_checkpoint(d) if (d / "config.yaml").exists() else None
    return (ckpt.step_of(latest) or 0) if latest is not None else 0


def common_start(dirs: Sequence[Path]) -> int:
    """The newest step every run has a checkpoint of (0 if one has none): a kill between two
    seeds' checkpoints leaves them one checkpoint apart; the batched run resumes in step."""
    steps: list[set[int]] = [
        {s for p in ckpt.checkpoint_dirs(d) if (s := ckpt.step_of(p)) is not None}
        if (d / "config.yaml").exists() else set() for d in dirs
    ]  # fmt: skip
    return max(set.intersection(*steps) if steps else set(), default=0)


def roll_back(d: Path, step: int) -> None:
    """Remove ``d``'s checkpoints newer than ``step`` (the resumed run makes them again)."""
    for p in ckpt.checkpoint_dirs(d):
        s = ckpt.step_of(p)
        if s is not None and s > step:
            shutil.rmtree(p)
            print(f"dynaworld: {p} removed: the batched run resumes all seeds at step {step:,}")


class _Routed(io.TextIOBase):
    """sys.stdout/stderr while seeds run: each thread writes to its own run's log."""

    def __init__(self, default: TextIO) -> None:
        self.default, self.local = default, threading.local()

    def write(self, s: str) -> int:
        return getattr(self.local, "stream", self.default).write(s)

    def flush(self) -> None:
        getattr(self.local, "stream", self.default).flush()


@dataclass
class Slot:
    """One seed's place in the batched run (``training.train(slot=...)``)."""

    k: int
    lockstep: Lockstep
    build_lock: threading.Lock
    trainers: list[Any] = field(default_factory=list)

    def building(self) -> threading.Lock:
        return self.build_lock

    def join(self, c: Any, trainer: Any) -> None:
        self.trainers.append(trainer)
        self.lockstep.call(self.k, "join", c.agent)
        print(f"dynaworld: seed {c.cfg.seed} is one of {len(self.trainers)} seeds trained as one batched program", flush=True)  # fmt: skip


def train_seeds(
    cfgs: Sequence[TrainConfig],
    run_dirs: Sequence[str | Path],
    logs: Sequence[str | Path] | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train (or resume) N seeds as one batched program; their summaries in order.

    Every run must start from the same step: new runs together, or resumed runs (moved back to
    the newest checkpoint they share). ``logs``: a file per run for its output (default: this
    process's). One seed's failure stops them all at their last checkpoints.
    """
    dirs = [Path(d) for d in run_dirs]
    refusal = batch_refusal(cfgs)
    if refusal is not None and refusal != "one seed":
        raise ConfigError(f"these runs cannot be batched: {refusal}")
    if len(dirs) != len(cfgs) or len({d.resolve() for d in dirs}) != len(dirs):
        raise ConfigError("a batched run needs one distinct run folder per seed")
    for d, c in zip(dirs, cfgs, strict=True):
        if not (d / "config.yaml").exists():
            refuse_inert(c)  # before any seed starts
    finished = [(d / "config.yaml").exists() and resume_changes(d, c) is None
                for d, c in zip(dirs, cfgs, strict=True)]  # fmt: skip
    if all(finished):
        return [finished_summary(d) for d in dirs]
    if any(finished):
        raise DynaworldError(
            f"{dirs[finished.index(True)]} is finished and the others are not: a batched run's "
            "seeds start from the same step (resume the unfinished ones together)"
        )
    step = common_start(dirs)
    for d in dirs:
        roll_back(d, step)
    lockstep, _ = lockstep_for(len(cfgs))
    build_lock, trainers = threading.Lock(), cast(list[Any], [])
    results: list[Any] = [None] * len(cfgs)
    interrupted = threading.Event()
    lockstep.before_fire.append(lambda: _pass_on_interrupt(interrupted, trainers))

    def run(k: int) -> None:
        slot = Slot(k, lockstep, build_lock, trainers) if len(cfgs) > 1 else None  # one: as is
        with contextlib.ExitStack() as stack:
            if logs is not None:
                route.local.stream = stack.enter_context(append_text(Path(logs[k])))
            try:
                results[k] = train(cfgs[k], dirs[k], resume=(dirs[k] / "config.yaml").exists(), slot=slot)  # fmt: skip
                lockstep.leave(k)
            except BaseException as e:  # noqa: BLE001 - every seed's outcome is returned
                results[k] = e
                lockstep.leave(k, None if isinstance(e, Interrupted | SeedsStopped) else e)

    route = _Routed(sys.stdout)
    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(len(cfgs))]
    with _routed(route), stop_on_interrupt(interrupted.set):
        for t in threads:
            t.start()
        _wait(threads, trainers, sum(c.total_steps for c in cfgs), progress)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise next((e for e in errors if not isinstance(e, SeedsStopped)), errors[0])
    return results


def _pass_on_interrupt(event: threading.Event, trainers: list[Any]) -> None:
    if event.is_set():  # every seed waits: all stop after the same step
        for t in trainers:
            t.stop_requested = True


@contextlib.contextmanager
def _routed(route: _Routed) -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = route
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def _wait(threads: list[threading.Thread], trainers: list[Any], total: int, progress: bool) -> None:
    bar = (
        progress_bar(total=total, unit="step", desc="seeds", file=sys.__stderr__)
        if progress
        else None
    )
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        if bar is not None:
            bar.update(sum(t.c.loop.state.env_steps for t in list(trainers)) - bar.n)
    if bar is not None:
        bar.close()
