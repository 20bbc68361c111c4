"""What each ``dynaworld worldmodels`` command does, given its parsed arguments."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dynaworld import rundir
from dynaworld.cli.wm_parser import STAGE_COMMANDS
from dynaworld.config import load_config
from dynaworld.errors import ConfigError
from dynaworld.files import atomic_write
from dynaworld.shipped import names
from dynaworld.studies.worldmodels.compare import compare
from dynaworld.studies.worldmodels.controllers import run_experiment
from dynaworld.studies.worldmodels.figures import dream_gif
from dynaworld.studies.worldmodels.parity import parity
from dynaworld.studies.worldmodels.probe import probe
from dynaworld.studies.worldmodels.reward_check import reward_check
from dynaworld.studies.worldmodels.reward_check import table as reward_table
from dynaworld.studies.worldmodels.table import log_table, report
from dynaworld.worldmodels import control
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.pipeline import Pipeline, load_run_config
from dynaworld.worldmodels.rollout import load_v
from dynaworld.worldmodels.run import WorldModelsRun


def _config(a: argparse.Namespace) -> WorldModelsConfig:
    if a.config and "=" in a.config:  # an override in the config's place
        a.overrides, a.config = [a.config, *a.overrides], None
    if a.config:
        return load_config(a.config, a.overrides, WorldModelsConfig)
    if not (Path(a.run_dir) / "config.yaml").exists():
        shipped = [n for n in names("config") if n.startswith("worldmodels_")]
        raise ConfigError(
            f"{a.run_dir} holds no World Models run yet: name a config first, e.g. "
            f"'dynaworld worldmodels {a.wm_command} {shipped[0]} --run-dir {a.run_dir}' "
            f"(shipped: {', '.join(shipped)})"
        )
    return load_run_config(a.run_dir, a.overrides)


def _paths(a: argparse.Namespace) -> WorldModelsRun:
    return WorldModelsRun(load_run_config(a.run_dir, a.overrides), a.run_dir, record=False)


def stages(a: argparse.Namespace) -> None:
    cfg = _config(a)
    first = a.from_iteration if a.wm_command == "run" else 1
    pipe = Pipeline(cfg, a.run_dir, a.ray, first=first)
    if a.wm_command == "run":
        out = pipe.run(first=a.from_iteration)
    else:
        out = pipe.run([a.wm_command.replace("-", "_")])
    print(json.dumps(out, default=float))
    print(f"dynaworld: run directory {a.run_dir}")


def experiment(a: argparse.Namespace) -> None:
    print(
        json.dumps(
            run_experiment(a.experiment, a.run_dir, a.overrides, a.ray, iteration=a.iteration)
        )
    )


def evaluate(a: argparse.Namespace) -> None:
    pipe = Pipeline(load_run_config(a.run_dir, a.overrides), a.run_dir, a.ray, record=False)
    print(json.dumps(pipe.evaluate(a.episodes, a.iteration, a.seeds)))


def random(a: argparse.Namespace) -> None:
    pipe = Pipeline(load_run_config(a.run_dir), a.run_dir, record=False)
    print(json.dumps(pipe.evaluate_random(a.episodes, a.seeds)))


def dream(a: argparse.Namespace) -> None:
    run = _paths(a)
    k = a.iteration or run.last_iteration()
    params_path = run.c_dir(k) / "params.npy"
    params = None if a.random or not params_path.exists() else np.load(params_path)
    real = None
    if a.beside_real is not None:
        if params is None:
            raise SystemExit("dynaworld: --beside-real needs a trained controller (params.npy)")
        real = control.real_frames(run, k, params, a.beside_real, a.steps)
    gif = dream_gif(
        load_v(run.dir / "vae.pt", str(run.device)),
        control.dream_env(run, k),
        params,
        control.controller(run),
        a.out or Path(a.run_dir) / ("dream_vs_real.gif" if real else "dream.gif"),
        a.steps,
        real,
        a.scale,
        a.every,
    )
    print(f"dynaworld: dream {gif}")


def probe_dream(a: argparse.Namespace) -> None:
    run = _paths(a)
    out = probe(run, a.iteration or run.last_iteration(), a.episodes)
    print(Path(out["path"]).with_suffix(".md").read_text(), end="")
    print(f"dynaworld: probe {out['path']}")


def check_rewards(a: argparse.Namespace) -> None:
    run = WorldModelsRun(load_run_config(a.run_dir), a.run_dir, record=False)
    fitted = [j for j in range(1, run.cfg.iterate.iterations + 1) if run.m_path(j).exists()]
    k = a.iteration or (fitted[-1] if fitted else 1)
    files = wmdata.rollout_files(a.rollouts)
    trained = {run.data_dir(j).resolve() for j in range(1, k + 1)}
    if any(f.parent.resolve() in trained for f in files):
        raise ConfigError(
            f"--rollouts {a.rollouts} is M_{k}'s training data: name held-out rollouts"
        )
    out = reward_check(run, files, k, a.window, a.temperature, a.seed)
    print(reward_table(out), end="")
    print(f"dynaworld: reward-check {run.iteration_dir(k) / 'reward_check.json'}")


def env_parity(a: argparse.Namespace) -> None:
    skills = [None if k == "cfg" else int(k) for k in (a.skill or ["cfg", "5"])]
    result = parity(a.out, skills, a.episodes)
    print(Path(a.out).with_suffix(".md").read_text(), end="")
    print(f"dynaworld: parity {Path(a.out).with_suffix('.json')} ({len(result['rows'])} rows)")


def tables(a: argparse.Namespace) -> None:
    print(f"dynaworld: report {report(a.run_dirs, a.out)}")


def compare_settings(a: argparse.Namespace) -> None:
    if a.out and Path(a.out).exists():  # a table someone wrote is not replaced
        raise ConfigError(f"--out {a.out} exists: name a new file")
    text = "\n".join(compare(a.settings, a.target)) + "\n"
    if a.out:
        with atomic_write(a.out, "w") as f:
            f.write(text)
    print(text, end="")


def es_log(a: argparse.Namespace) -> None:
    print("\n".join(log_table(a.c_dir, a.first, a.every)))


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    **{name: stages for name in ("run", *STAGE_COMMANDS)},
    "experiment": experiment,
    "evaluate": evaluate,
    "random": random,
    "dream": dream,
    "probe": probe_dream,
    "reward-check": check_rewards,
    "parity": env_parity,
    "report": tables,
    "log": es_log,
    "compare": compare_settings,
}


def handle(a: argparse.Namespace) -> int:
    if getattr(a, "run_dir", None):  # before any config is read or anything is written
        rundir.check_kind(a.run_dir, "worldmodels", f"dynaworld worldmodels {a.wm_command}")
    COMMANDS[a.wm_command](a)
    return 0
