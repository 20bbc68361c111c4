"""Train an agent: Algorithm 1's components (``build``) run by the loop, logged, checkpointed.

The run directory holds ``config.yaml`` (fully resolved), ``metrics.csv``, ``tensorboard/``,
``checkpoints/`` and, once finished, ``summary.json``. ``train(..., resume=True)`` continues from
the newest checkpoint and ends with the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld import checkpoint as ckpt
from dynaworld import rundir
from dynaworld.build import (
    Components,
    build,
    load_and_restore,
    measure_model,
)
from dynaworld.callbacks import call, check_callbacks
from dynaworld.config import TrainConfig, flatten, refuse_inert, save_config, to_dict
from dynaworld.config.train import eval_seed
from dynaworld.envs.state import env_state
from dynaworld.errors import DynaworldError, Interrupted
from dynaworld.evaluate import evaluate
from dynaworld.interrupt import stop_on_interrupt
from dynaworld.loop import LoopState
from dynaworld.models.base import LearningModel
from dynaworld.plots import plot_run
from dynaworld.progress import progress_bar
from dynaworld.resume import (
    check_new_run_dir,
    default_run_dir,
    finished_summary,
    prepare_run_dir,
    resume_changes,
)
from dynaworld.runlog import (
    MODEL_ERROR_COLUMNS,
    TERMINATION_ERROR_COLUMNS,
    RunLogger,
    write_json,
)
from dynaworld.types import Transition

CHECKPOINT_FORMAT = 1


# ------------------------------------------------------------------------------ callbacks


class Trainer:
    """Callbacks of the loop: progress bar, metrics, evaluation and checkpoints."""

    def __init__(
        self,
        c: Components,
        run_dir: Path,
        logger: RunLogger,
        wall_time: float = 0.0,
        returns: list[float] | None = None,
        on_first_save: Callable[[], None] | None = None,
        callbacks: Sequence[Any] = (),
    ) -> None:
        self.c, self.dir, self.log = c, run_dir, logger
        self.user = list(callbacks)  # the user's (``dynaworld.callbacks``)
        self.returns: deque[float] = deque(returns or [], maxlen=100)
        self.wall_before = wall_time
        self.on_first_save = on_first_save
        self.stop_requested = False  # set by Ctrl-C (SIGINT): stop after this iteration
        self.t0 = time.perf_counter()
        self.steps0 = c.loop.state.env_steps
        self.bar = None
        self.missed: set[str] = set()
        self.env_state()  # say at the start what a checkpoint will not hold
        if c.cfg.progress:
            self.bar = progress_bar(
                total=c.cfg.total_steps,
                initial=self.steps0,
                unit="step",
                desc=c.cfg.name,
            )

    def env_state(self) -> dict[str, Any]:
        """E's state for a checkpoint; names once what it cannot hold (see ``envs.state``)."""
        state, missed = env_state(self.c.env)
        new = [m for m in missed if m not in self.missed]
        if new:
            self.missed.update(new)
            print(
                "dynaworld: warning: this environment's state is not fully checkpointed: "
                f"{'; '.join(new)}. A resumed run rebuilds these from the config, so it continues "
                "but not bit-identically.",
                flush=True,
            )
        return state

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self.t0

    def counters(self, st: LoopState) -> dict[str, Any]:
        return {
            "agent_updates": st.agent_updates,
            "model_transitions": st.model_transitions,
            "wall_time_s": round(self.wall_time(), 3),
        }

    def on_step(self, t: Transition, st: LoopState) -> None:
        if self.user:
            call(self.user, "on_step", t, st)
        ep = t.info.get("episode") if t.episode_end else None
        if ep is not None:
            self.returns.append(float(ep["r"]))
            self.log.log(
                st.env_steps,
                {
                    "episode_return": float(ep["r"]),
                    "episode_length": int(ep["l"]),
                    **self.counters(st),
                },
            )

    def on_iteration(self, st: LoopState) -> bool:
        cfg, n = self.c.cfg, st.env_steps
        if self.bar is not None:
            self.bar.update(n - self.bar.n)
            if n % 100 == 0 and self.returns:
                self.bar.set_postfix(ret=f"{np.mean(list(self.returns)[-10:]):.1f}", refresh=False)
        if n % cfg.log_every == 0:
            sps = (n - self.steps0) / max(1e-9, time.perf_counter() - self.t0)
            row = {**self.c.agent.pop_metrics(), **self.counters(st), "steps_per_s": round(sps, 1)}
            if not np.isfinite(row.get("loss", 0.0)):
                raise DynaworldError(
                    f"training diverged: the agent's loss is {row['loss']} at step {n:,} "
                    f"(agent.lr={cfg.agent.lr}); the last checkpoint before it is kept"
                )
            if self.returns:
                row["train_return_100"] = float(np.mean(self.returns))
            model = self.learning_model()
            if model is not None and not model.frozen:
                row.update(model_loss=model.last_loss, model_updates=model.updates)
            self.log.log(n, row)
        if cfg.eval_every and n % cfg.eval_every == 0 and n < cfg.total_steps:
            self.evaluate(st, cfg.eval_episodes)
        every = cfg.model.error_every
        if (every and n % every == 0) or n == cfg.total_steps:
            self.model_error(st)
        saved = n % cfg.checkpoint_every == 0 or n == cfg.total_steps
        if saved or self.stop_requested:  # Ctrl-C: stop here, at a whole iteration, saved
            self.save(st)
        return self.stop_requested

    def learning_model(self) -> LearningModel | None:
        """The planning model when it learns (``ModelSpec.learns``), else None."""
        model = self.c.stateful.get("planning_model")
        return model if model is not None and self.c.model_spec.learns else None

    def model_error(self, st: LoopState) -> None:
        """k-step prediction error of a learned model on held-out real data → model_error.csv,
        and its one-step termination error → termination_error.csv."""
        model = self.learning_model()
        if model is None:
            return
        err, ends = measure_model(model, self.c.cfg, st.env_steps)
        for k, (fe, re) in enumerate(zip(*(err or ((), ())), strict=True), start=1):
            self.log.table(
                "model_error.csv",
                MODEL_ERROR_COLUMNS,
                {
                    "env_steps": st.env_steps,
                    "k": k,
                    "frame_error": float(fe),
                    "reward_error": float(re),
                },
            )
        if ends is not None:
            self.log.table(
                "termination_error.csv",
                TERMINATION_ERROR_COLUMNS,
                dict(zip(TERMINATION_ERROR_COLUMNS, (st.env_steps, *ends), strict=True)),
            )

    def evaluate(self, st: LoopState, episodes: int) -> np.ndarray:
        cfg = self.c.cfg
        returns = evaluate(
            self.c.agent,
            cfg.env,
            episodes,
            cfg.agent.eval_eps,
            seed=eval_seed(cfg.eval_block, cfg.seed, st.env_steps),
            max_steps=cfg.eval_max_steps,
        )
        self.log.log(
            st.env_steps,
            {
                "eval_return_mean": float(returns.mean()),
                "eval_return_std": float(returns.std()),
                **self.counters(st),
            },
        )
        call(self.user, "on_evaluation", st.env_steps, returns)
        return returns

    # -------------------------------------------------------------- checkpoints
    def save(self, st: LoopState) -> None:
        self.log.flush()
        c = self.c
        state = {
            "format": CHECKPOINT_FORMAT,
            "config": flatten(to_dict(c.cfg)),  # the run it belongs to (checked on resume)
            "loop": {k: v for k, v in vars(st).items() if k != "obs"},
            "obs": torch.from_numpy(np.asarray(st.obs)),
            "components": {
                k: v.state_dict() for k, v in c.stateful.items() if hasattr(v, "state_dict")
            },
            "env": self.env_state(),
            "torch_rng": torch.get_rng_state(),
            "returns": list(self.returns),
            "wall_time_s": self.wall_time(),
        }
        path = ckpt.save_checkpoint(self.dir, st.env_steps, state, keep=c.cfg.keep_checkpoints)
        call(self.user, "on_checkpoint", st.env_steps, path)
        done, self.on_first_save = self.on_first_save, None
        if done is not None:
            done()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ------------------------------------------------------------------------------ entry points


def train(
    cfg: TrainConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    slot: Any = None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Run (or resume) one training run; returns the summary written to ``summary.json``.

    A new run checks its directory and builds every component before it writes anything; a
    resumed run loads its checkpoint before it records what the resume changed. ``slot``: this
    run's place in a batched run of many seeds (``dynaworld.seeds``); ``callbacks``: the user's
    (``dynaworld.callbacks``).
    """
    callbacks = check_callbacks(callbacks)
    d = Path(run_dir) if run_dir else default_run_dir(cfg)
    if resume:
        rundir.check_no_links(d)  # a shared folder's links: refused before anything is read
        if resume_changes(d, cfg) is None:  # checked before the lock: a refusal writes nothing
            return finished_summary(d)
        rundir.lock(d)  # one writer per run folder, then checked again under the lock
        try:
            changes = resume_changes(d, cfg)
            if changes is None:
                return finished_summary(d)
            c = _build(cfg, slot)
            return _train(cfg, d, c, changes, slot, callbacks)
        finally:
            rundir.unlock(d)
    refuse_inert(cfg)  # a setting that would silently do nothing: refused before any work
    check_new_run_dir(d)
    c = _build(cfg, slot)  # every component is built (and checked) before the folder exists
    rundir.lock(d)
    try:
        check_new_run_dir(d)  # again: another writer may have made its run meanwhile
        return _train(cfg, d, c, None, slot, callbacks)
    finally:
        rundir.unlock(d)


def announce(cfg: TrainConfig, c: Components, d: Path, resume: bool) -> None:
    """The run header (env, planning, replay, device, folder) and, for a new run, its warnings."""
    pc = cfg.planning
    plan = (
        "no planning (DQN)"
        if c.model_spec.plan == "none"
        else f"planning {pc.model} {pc.shape} every {pc.period} steps"
    )
    print(
        f"dynaworld: {cfg.env.id} | {cfg.total_steps:,} real steps | {plan} | "
        f"{c.buffer.describe()} | device {c.device} "
        f"({torch.get_num_threads()} torch threads) | run dir {d}",
        flush=True,
    )
    for w in () if resume else cfg.warnings():  # said once, when the run is made
        print(f"dynaworld: warning: {w}", file=sys.stderr, flush=True)


def restore_or_create(
    cfg: TrainConfig, c: Components, d: Path, changes: dict[str, Any] | None
) -> dict[str, Any]:
    """A resume: the newest checkpoint loaded into ``c`` (its record written once the run has
    moved on); a new run: its folder's config and history. Returns the Trainer's arguments."""
    if changes is None:
        prepare_run_dir(cfg, d)
        return {}
    for p in ckpt.remove_partial(d):
        print(f"dynaworld: removed {p}, a checkpoint a crash left half-written", flush=True)
    latest = ckpt.latest_checkpoint(d)
    kwargs: dict[str, Any] = {}
    if latest is None:
        print(f"dynaworld: {d} has no checkpoint yet: the run starts again from step 0", flush=True)
    else:
        state = load_and_restore(c, latest)
        kwargs = {"wall_time": state["wall_time_s"], "returns": state["returns"]}
        print(f"dynaworld: resumed from {latest} at step {c.loop.state.env_steps:,}", flush=True)
    from_step = c.loop.state.env_steps

    def extended() -> None:  # recorded once the run has really moved on (its first checkpoint)
        if changes:
            save_config(cfg, d / "config.yaml")
        rundir.record(d, "resumed", from_step=from_step, overrides=changes)

    return kwargs | {"on_first_save": extended}


def _build(cfg: TrainConfig, slot: Any) -> Components:
    if slot is None:
        return build(cfg)
    with slot.building():  # one seed at a time: build seeds torch's global generator
        return build(cfg)


def _train(
    cfg: TrainConfig,
    d: Path,
    c: Components,
    changes: dict[str, Any] | None,
    slot: Any = None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Algorithm 1 on the built components ``c``, logged and checkpointed into ``d`` (locked);
    ``changes``: a resume's overrides (None for a new run)."""
    resume = changes is not None
    announce(cfg, c, d, resume)
    trainer_kwargs = restore_or_create(cfg, c, d, changes)
    logger = RunLogger(d, resume_step=c.loop.state.env_steps if resume else None)
    trainer = Trainer(c, d, logger, callbacks=callbacks, **trainer_kwargs)
    c.loop.callbacks = [trainer]
    if slot is not None:
        slot.join(c, trainer)  # waits for every seed, then their agents run as one program
    with stop_on_interrupt(lambda: setattr(trainer, "stop_requested", True)):
        try:
            st = c.loop.run()
            if trainer.stop_requested:
                logger.close()
                raise Interrupted(
                    f"interrupted at step {st.env_steps:,}: checkpoint written; resume with "
                    f"'dynaworld train --resume {d}'"
                )
            final = trainer.evaluate(st, cfg.final_eval_episodes)
        finally:
            trainer.close()
    summary = {
        "env_id": cfg.env.id,
        "seed": cfg.seed,
        "eval_return_mean": float(final.mean()),
        "eval_return_std": float(final.std()),
        "eval_episodes": int(len(final)),
        "train_return_100": float(np.mean(trainer.returns)) if trainer.returns else None,
        "env_steps": st.env_steps,
        "agent_updates": st.agent_updates,
        "model_transitions": st.model_transitions,
        "episodes": st.episodes,
        "wall_time_s": round(trainer.wall_time(), 2),
    }
    logger.close()
    write_json(d / "summary.json", summary)
    plot_run(d, title=f"{cfg.name}: {cfg.env.id}")
    return summary
