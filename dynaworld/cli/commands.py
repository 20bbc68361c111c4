"""What each ``dynaworld`` command does, given its parsed arguments (``cli`` parses them).

Each function takes the ``argparse.Namespace`` of its command and returns the exit status. This
module imports the library (torch and all); ``cli`` imports it only once a command runs, so
``dynaworld --help`` stays instant. The studies' commands (sweep, report, demo, worldmodels) live
in ``study_commands``, so ``train`` and ``eval`` never import the statistics and charts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from dynaworld.api import Run
from dynaworld.config import TrainConfig, describe, load_config, to_dict
from dynaworld.datasets import collect as collect_dataset
from dynaworld.datasets import train_model
from dynaworld.envs import check_env_id, import_env_modules
from dynaworld.errors import DynaworldError
from dynaworld.evaluate import measure_run_model
from dynaworld.resume import check_new_run_dir, default_run_dir, resume_config
from dynaworld.seeds import train_seeds
from dynaworld.shipped import KINDS, names
from dynaworld.training import train as run_training
from dynaworld.watch import check_rendering
from dynaworld.worldmodels.config import WorldModelsConfig


def train(a: argparse.Namespace) -> int:
    if a.seeds:
        return train_many(a)
    if a.resume:
        overrides = ([a.config] if a.config else []) + list(a.overrides)
        cfg = resume_config(a.resume, overrides)
        run_dir = a.resume
        summary = run_training(cfg, run_dir, resume=True)
    else:
        if not a.config:
            raise DynaworldError("train needs a CONFIG file (or --resume RUN_DIR)")
        cfg = load_config(a.config, a.overrides)
        cfg.env.imports = [*cfg.env.imports, *(m for m in a.imports if m not in cfg.env.imports)]
        import_env_modules(cfg.env.imports)

        check_env_id(cfg.env.id)
        run_dir = a.run_dir or str(default_run_dir(cfg))
        summary = run_training(cfg, run_dir)
    print(json.dumps(summary))
    print(f"dynaworld: run directory {run_dir}")
    return 0


def train_many(a: argparse.Namespace) -> int:
    """``train --seeds N``: N seeds as one batched program, each a run in RUN_DIR/seed<k>."""
    if a.resume:
        root = Path(a.resume)
        dirs = sorted(root.glob("seed*"), key=lambda p: p.name)
        if not dirs:
            raise DynaworldError(f"{root} holds no seed<k> run folders to resume")
        overrides = ([a.config] if a.config else []) + list(a.overrides)
        cfgs = [resume_config(d, overrides) for d in dirs]
    else:
        if not a.config:
            raise DynaworldError("train needs a CONFIG file (or --resume RUN_DIR)")
        base = load_config(a.config, a.overrides)
        import_env_modules(base.env.imports)
        check_env_id(base.env.id)
        root = Path(a.run_dir or str(default_run_dir(base)))
        cfgs = [
            load_config(a.config, [*a.overrides, f"seed={base.seed + i}"]) for i in range(a.seeds)
        ]
        dirs = [root / f"seed{c.seed}" for c in cfgs]
        for d in dirs:
            check_new_run_dir(d)
            d.mkdir(parents=True, exist_ok=True)
    print(
        f"dynaworld: {len(cfgs)} seeds as one batched program; each seed's output in RUN/seed<k>/log.txt"
    )
    summaries = train_seeds(cfgs, dirs, logs=[d / "log.txt" for d in dirs])
    for d, s in zip(dirs, summaries, strict=True):
        print(json.dumps({"run_dir": str(d), **s}))
    print(f"dynaworld: run directories {root}/seed<k>")
    return 0


def evaluate(a: argparse.Namespace) -> int:
    run = Run(a.run_dir)  # the agent alone: no replay buffer or planning model is built
    if a.gif:
        check_rendering(run)  # a GIF that cannot be drawn is refused before any episode
    returns = run.evaluate(a.episodes, seed=a.seed, progress=True)
    out = {
        "checkpoint": str(run.checkpoint),
        "episodes": len(returns),
        "eval_return_mean": float(returns.mean()),
        "eval_return_std": float(returns.std()),
    }
    if a.gif:
        out["gif"] = run.record(a.gif, episodes=a.gif_episodes, seed=a.seed)
    print(json.dumps(out))
    return 0


def collect(a: argparse.Namespace) -> int:
    out = collect_dataset(a.run_dir, a.steps, a.out, a.epsilon, a.seed)
    print(f"dynaworld: dataset {out}")
    return 0


def model_train(a: argparse.Namespace) -> int:
    cfg = load_config(a.config, a.overrides)
    out = train_model(a.dataset, cfg, a.out, a.updates, a.seed, a.init)
    print(json.dumps(json.loads(out.with_suffix(".json").read_text())))
    print(f"dynaworld: model {out}")
    return 0


def model_error(a: argparse.Namespace) -> int:
    for d in a.run_dirs:
        print(json.dumps(measure_run_model(d)), flush=True)
    return 0


def config(a: argparse.Namespace) -> int:
    cls: type = WorldModelsConfig if a.worldmodels else TrainConfig
    if a.list:
        for kind in KINDS:
            print(f"shipped {kind}s ({KINDS[kind]}):")
            for n in names(kind):
                print(f"  {n}")
        return 0
    if a.config:
        cfg: object = load_config(a.config, a.overrides, cls)
        print(yaml.safe_dump(to_dict(cfg), sort_keys=False), end="")
        return 0
    for key, default, help in describe(cls):
        print(f"{key:28s} {default:14s} {help}")
    return 0


COMMANDS = {
    "train": train,
    "eval": evaluate,
    "config": config,
    "collect": collect,
    "model-train": model_train,
    "model-error": model_error,
}
