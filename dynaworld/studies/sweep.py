"""Sweeps: every (suite, game, method, seed) of an experiment file as one training run.

Runs execute in parallel worker processes (or as Ray tasks on a cluster: the same function), each
in its own run directory ``OUT/runs/<suite>/<game>/<method>/seed<N>``. A finished run (with
``summary.json``) is skipped, an unfinished one resumes from its last checkpoint, so rerunning a
sweep after a crash only does the missing work; a run is reused only when its own config.yaml is
the run asked for. ``OUT/experiment.yaml`` records the spec (the experiment file's contents and
the overrides), ``OUT/history.jsonl`` every invocation; ``OUT/results.csv`` gets one row per run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import Any

import yaml

from dynaworld import rundir
from dynaworld.config import (
    TrainConfig,
    from_dict,
    load_yaml,
    merge,
    refuse_inert,
    to_dict,
)
from dynaworld.datasets import collect, train_model
from dynaworld.device import cpu_threads, resolve_device
from dynaworld.errors import ConfigError, RunsFailed
from dynaworld.files import append_text, atomic_write, read_json
from dynaworld.parallel import make_pool
from dynaworld.progress import progress_bar
from dynaworld.registry import MODELS
from dynaworld.runlog import reached
from dynaworld.seeds import batch_refusal, common_start, train_seeds
from dynaworld.studies.experiment import Experiment, RunSpec, nested
from dynaworld.studies.record import (
    check_same_run,
    check_spec,
    recorded_runs,
    select,
    sweep_spec,
    write_results,
)
from dynaworld.training import train

PACK = ("auto", "on", "off")
POLL_S = 5.0  # how often the progress bar reads the running runs' steps


def pretrain_jobs(
    exp: Experiment, specs: list[RunSpec]
) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """One (expert config, folder, settings) job per game whose runs need an 'auto' pretrained model."""
    jobs: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {}
    for s in specs:
        path = s.cfg.planning.model_path
        spec = MODELS.get(s.cfg.planning.model)
        if not (spec and spec.pretrained) or not path or Path(path).exists() or path in jobs:
            continue
        if not exp.pretrain:
            raise ConfigError(
                f"{s.suite}/{s.game}/{s.method}: model_path 'auto' needs a 'pretrain' section"
            )
        expert = merge(to_dict(s.cfg), nested(exp.pretrain.get("expert", {})))
        expert["planning"] = {"model": "none"}
        models = int(exp.pretrain.get("models", 1))  # > 1: independent models, by run seed
        expert["seed"] = s.cfg.seed % models
        jobs[path] = (
            expert,
            str(Path(path).parent),
            {k: v for k, v in exp.pretrain.items() if k not in ("expert", "models")},
        )
    return list(jobs.values())


def run_pretrain(
    expert: dict[str, Any], folder: str, settings: dict[str, Any], threads: int | None
) -> dict[str, Any]:
    """Expert DQN run → collect its play → train the model (each stage skipped once done)."""
    d = Path(folder)
    # the model settings are m's, not the expert DQN's (experts made before this keep theirs)
    made = (d / "expert" / "config.yaml").exists()
    dqn = expert if made else {k: v for k, v in expert.items() if k != "model"}
    summary = run_one(dqn, str(d / "expert"), threads)
    cfg = from_dict(TrainConfig, expert)
    if threads:
        cfg.torch_threads = threads
    if not (d / "dataset" / "meta.json").exists():
        with (
            append_text(d / "log.txt") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            collect(
                d / "expert",
                int(settings.get("collect_steps", 50_000)),
                d / "dataset",
                float(settings.get("epsilon", 0.05)),
            )
    if not (d / "model.pt").exists():
        with (
            append_text(d / "log.txt") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            train_model(
                d / "dataset", cfg, d / "model.pt", int(settings.get("model_updates", 20_000))
            )
    return {"eval_return_mean": summary["eval_return_mean"]}


def _task(cfg_dict: dict[str, Any], run_dir: str, threads: int | None) -> tuple[TrainConfig, Path]:
    """A worker's run: its config (checked against its folder) with ``threads``, the worker's share
    of the cores, unless it sets its own; the small networks keep one thread (``cpu_threads``:
    a second gains little and costs 3× or more on a core another process uses)."""
    d, cfg = Path(run_dir), from_dict(TrainConfig, cfg_dict)
    check_same_run(d, cfg)
    if threads and not cfg.torch_threads:
        cfg.torch_threads = min(threads, cpu_threads(None, cfg.agent.network))
    return cfg, d


def run_one(cfg_dict: dict[str, Any], run_dir: str, threads: int | None) -> dict[str, Any]:
    """Train (or resume, or skip) one run; its output goes to run_dir/log.txt. Returns its summary."""
    cfg, d = _task(cfg_dict, run_dir, threads)
    if (d / "summary.json").exists():
        return read_json(d / "summary.json", "run summary")
    resume = (d / "config.yaml").exists()
    d.mkdir(parents=True, exist_ok=True)
    with (
        append_text(d / "log.txt") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        return train(cfg, d, resume=resume)


def run_pack(
    cfg_dicts: list[dict[str, Any]], run_dirs: list[str], threads: int | None
) -> list[dict[str, Any]]:
    """Train the seeds of one (game, method) as one batched program (``dynaworld.seeds``)."""
    cfgs, dirs = zip(
        *(_task(c, d, threads) for c, d in zip(cfg_dicts, run_dirs, strict=True)), strict=True
    )
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return train_seeds(cfgs, dirs, logs=[d / "log.txt" for d in dirs], progress=False)


def packs(todo: list[RunSpec], pack: str) -> list[list[RunSpec]]:
    """``todo`` as groups to run together: the seeds of each (suite, game, method) that start
    from the same step, when ``pack`` allows it ('on'; 'auto': on a GPU) and they can be batched."""
    groups: dict[tuple[Any, ...], list[RunSpec]] = {}
    for s in todo:
        on = pack == "on" or (pack == "auto" and resolve_device(s.cfg.device).type == "cuda")
        key = (s.suite, s.game, s.method, common_start([s.run_dir])) if on else (id(s),)
        groups.setdefault(key, []).append(s)
    out: list[list[RunSpec]] = []
    for g in groups.values():
        if len(g) > 1 and batch_refusal([s.cfg for s in g]) is not None:
            out += [[s] for s in g]
        else:
            out.append(g)
    return out


def execute(
    exp: Experiment, pool: Any, todo: list[RunSpec], total: int, threads: int, pack: str = "off"
) -> list[str]:
    """Run ``todo`` (after any pretraining jobs) on ``pool``, then shut it down; returns the
    failures (one broken run does not stop the sweep). ``pack``: see ``packs``."""
    bar = progress_bar(total=total, initial=total - len(todo), unit="run", desc=exp.name)
    failures: list[str] = []
    try:
        jobs = pretrain_jobs(exp, todo)
        if jobs:
            print(
                f"dynaworld sweep: first {len(jobs)} pretraining job(s): expert DQN, expert data, model",
                flush=True,
            )
            for f in [pool.submit(run_pretrain, *job, threads) for job in jobs]:
                f.result()
        futures = {submit(pool, g, threads): g for g in packs(todo, pack)}
        pending, finished = set(futures), total - len(todo)
        while pending:
            done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            if not done:  # the bar moves inside the running runs too
                inside = [(s, reached(s.run_dir)) for f in pending for s in futures[f]]
                bar.n = finished + sum(min(1.0, n / s.cfg.total_steps) for s, n in inside)
                bar.set_postfix_str(" ".join(f"{s.game}/{s.method}/seed{s.seed}: {n:,}/"
                    f"{s.cfg.total_steps:,}" for s, n in inside if n)[:120], refresh=False)  # fmt: skip
                bar.refresh()
                continue
            for f in done:
                group = futures[f]
                try:
                    r = f.result()
                    bar.set_postfix_str(" ".join(
                        f"{s.game}/{s.method}/seed{s.seed}: {x['eval_return_mean']:.2f}"
                        for s, x in zip(group, r if len(group) > 1 else [r], strict=True)
                    ))  # fmt: skip
                except Exception as e:  # noqa: BLE001 - reported with the run's folder
                    failures += [f"{s.run_dir}: {type(e).__name__}: {e}" for s in group]
                finished += len(group)
                bar.n = finished
                bar.refresh()
    finally:
        bar.close()
        pool.shutdown(wait=True)
    return failures


def submit(pool: Any, group: list[RunSpec], threads: int) -> Any:
    if len(group) == 1:
        return pool.submit(run_one, to_dict(group[0].cfg), str(group[0].run_dir), threads)
    return pool.submit(run_pack, [to_dict(s.cfg) for s in group], [str(s.run_dir) for s in group], threads)  # fmt: skip


def write_record(
    out: Path, spec: dict[str, Any], spec_file: Path | None, invocation: dict[str, Any]
) -> dict[str, Any]:
    """Claim ``out`` for this sweep, write its spec (``experiment.yaml`` or the added
    ``experiment.N.yaml``) and append this invocation to ``history.jsonl``; the spec written."""
    rundir.claim(out, "sweep", "dynaworld sweep")
    if spec_file is not None:
        if spec_file.exists():  # a dynaworld <= 0.1 record: kept inside the new one
            spec = {**spec, "legacy_record": load_yaml(spec_file)}
        with atomic_write(spec_file, "w") as out_file:
            yaml.safe_dump(spec, out_file, sort_keys=False)
    rundir.record(out, "sweep", **invocation)
    return spec


def check_folder(
    out: Path, spec: dict[str, Any], specs: list[RunSpec], add_spec: bool
) -> Path | None:
    """The spec file to write (``check_spec``), once every existing run is the run asked for."""
    spec_file = check_spec(out, spec, add_spec)
    for s in specs:
        check_same_run(s.run_dir, s.cfg)
    return spec_file


def run_sweep(
    exp: Experiment,
    out: str | Path,
    seeds: int | None = None,
    workers: int = 1,
    ray_address: str | None = None,
    suites: Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    games: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    add_spec: bool = False,
    pack: str = "auto",
) -> Path:
    """Run every missing run of ``exp``; write ``out/results.csv``; return its path.

    ``pack``: 'on' trains the seeds of each (game, method) as one batched program
    (``dynaworld.seeds``), 'off' one run at a time, 'auto' batches on a GPU only (on a CPU a batched
    run measured no faster: docs/results/many_seeds.md).

    Everything is checked before anything is written: the filters, the folder's recorded spec
    (``experiment.yaml``) and every existing run's own config against the run asked for.
    """
    out = Path(out)
    overrides = list(overrides)
    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be at least 1")
    if pack not in PACK:
        raise ConfigError(f"--pack-seeds {pack!r}: must be one of {', '.join(PACK)}")
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds {seeds}: must be at least 1")
    rundir.check_kind(out, "sweep", "dynaworld sweep")
    specs = select(exp, exp.runs(out, seeds, suites, overrides), games, methods)
    for r in specs:  # a new run with a setting that would do nothing: refused before any run
        if not (r.run_dir / "config.yaml").exists():
            try:
                refuse_inert(r.cfg)
            except ConfigError as e:
                raise ConfigError(f"{r.suite}/{r.game}/{r.method}: {e}") from None
    spec = sweep_spec(exp, overrides)
    created = not out.exists()
    if not created:  # refused before the lock: a refusal writes nothing (checked again under it)
        check_folder(out, spec, specs, add_spec)
    rundir.lock(out)  # one writer per sweep folder, before its record is read to be written
    try:
        return _run_sweep(exp, out, specs, spec, seeds, (workers, pack), ray_address, add_spec, {
            "overrides": overrides, "seeds": seeds or exp.seeds, "runs": len(specs),
            "suites": list(suites or []), "games": list(games or []), "methods": list(methods or []),
            "pack": pack,
        })  # fmt: skip
    except BaseException:
        if created and {p.name for p in out.iterdir()} <= {rundir.LOCK_FILE}:
            shutil.rmtree(out)  # a refused sweep leaves no folder behind
        raise
    finally:
        rundir.unlock(out)


def _run_sweep(
    exp: Experiment,
    out: Path,
    specs: list[RunSpec],
    spec: dict[str, Any],
    seeds: int | None,
    workers_pack: tuple[int, str],
    ray_address: str | None,
    add_spec: bool,
    invocation: dict[str, Any],
) -> Path:
    workers, pack = workers_pack
    spec_file = check_folder(out, spec, specs, add_spec)
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    pool = make_pool(workers, ray_address)  # a Ray address that does not answer fails here
    try:
        spec = write_record(out, spec, spec_file, invocation)
    except BaseException:  # the pool (a Ray cluster) must not outlive a failed write
        pool.shutdown(wait=False)
        raise
    todo = [s for s in specs if not (s.run_dir / "summary.json").exists()]
    where = f"ray {ray_address}" if ray_address else f"{workers} worker process(es)"
    print(
        f"dynaworld sweep: {len(specs)} runs, {len(specs) - len(todo)} already finished, "
        f"{where}; output {out}",
        flush=True,
    )
    t0 = time.time()
    failures = execute(exp, pool, todo, len(specs), threads, pack)
    # results.csv lists every finished run of every spec OUT records (each row's run matches
    # its spec), not only this invocation's
    path = write_results(recorded_runs(exp, out, max(seeds or 0, exp.seeds), spec), out)
    print(f"dynaworld sweep: done in {time.time() - t0:.0f} s; results in {path}", flush=True)
    if failures:
        raise RunsFailed(
            f"{len(failures)} of {len(todo)} runs failed (each run's log.txt has its output; the "
            f"finished ones are in {path}; the same command resumes the rest):\n  "
            + "\n  ".join(failures)
        )
    return path
