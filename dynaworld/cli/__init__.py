"""The ``dynaworld`` command line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from dynaworld.argtypes import non_negative_int, positive_int, probability
from dynaworld.cli.wm_parser import add_parser
from dynaworld.errors import DynaworldError, RunsFailed
from dynaworld.version import __version__

EPILOG = """examples:
  dynaworld train configs/dqn_minatar_breakout.yaml total_steps=5000 --run-dir runs/breakout
  dynaworld train --resume runs/breakout
  dynaworld eval runs/breakout --episodes 20
  dynaworld demo                        # DQN vs extra updates vs Dyna 100x1 vs Rollout-Dyna 10x10
  dynaworld sweep experiments/planning_shape.yaml --out sweeps/ps --suite minatar --workers 2
  dynaworld report sweeps/ps
  dynaworld collect runs/breakout --steps 50000 --out data/breakout
  dynaworld model-train data/breakout configs/dqn_minatar_breakout.yaml --out models/breakout.pt
  dynaworld model-error runs/breakout   # a learned model's k-step and termination errors
  dynaworld worldmodels run configs/worldmodels_carracing_small.yaml --run-dir runs/wm-car
  dynaworld worldmodels report runs/wm-car
  dynaworld config                      # every config key with its default and meaning
"""


# the commands that need the studies (statistics, charts); the others are in cli.commands
_MODULE = {c: "study_commands" for c in ("sweep", "report", "demo", "worldmodels")}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dynaworld",
        description="Model-based RL around one loop (Algorithm 1).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"dynaworld {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    adders = (_add_train_commands, _add_sweep_commands, _add_demo_command, _add_data_commands,
              _add_other_commands)  # fmt: skip
    for add in adders:
        add(sub)
    return p


def _add_train_commands(sub: Any) -> None:
    """train and eval."""
    t = sub.add_parser(
        "train",
        help="train an agent from a config (or resume a run)",
        description="Train: CONFIG [key=value ...] or --resume RUN_DIR [key=value ...].",
    )
    t.add_argument("config", nargs="?", help="YAML config file")
    t.add_argument("overrides", nargs="*", help="key=value overrides, e.g. agent.lr=1e-4")
    t.add_argument("--run-dir", help="run directory (default runs/<name>-<time>)")
    t.add_argument(
        "--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint"
    )
    t.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (it registers your env ids); recorded as env.imports "
        "(repeatable; default none)",
    )
    t.add_argument(
        "--seeds",
        type=positive_int,
        metavar="N",
        help="train seeds seed..seed+N-1 as one batched program, each a run in RUN_DIR/seed<k> "
        "(with --resume: RUN_DIR holds them)",
    )

    e = sub.add_parser("eval", help="evaluate a run's newest checkpoint on fresh episodes")
    e.add_argument("run_dir", help="a run directory (its newest checkpoint is evaluated)")
    e.add_argument("--episodes", type=positive_int, default=30, help="episodes (default 30)")
    e.add_argument(
        "--seed", type=non_negative_int, default=12345,
        help="episode i starts from seed SEED+i (default 12345)",
    )  # fmt: skip
    e.add_argument(
        "--gif", metavar="FILE", help="also record the first --gif-episodes episodes as a GIF"
    )
    e.add_argument("--gif-episodes", type=positive_int, default=1, metavar="N", help="default 1")


def _add_sweep_commands(sub: Any) -> None:
    """sweep, report and demo."""
    s = sub.add_parser(
        "sweep", help="run every game x method x seed of an experiment (parallel, resumable)"
    )
    s.add_argument("experiment", help="experiment YAML, e.g. experiments/planning_shape.yaml")
    s.add_argument("overrides", nargs="*", help="key=value overrides applied to every run")
    s.add_argument("--out", required=True, help="sweep directory (runs/, results.csv)")
    s.add_argument(
        "--seeds", type=positive_int, help="seeds per setting (default: the experiment's)"
    )
    s.add_argument(
        "--workers", type=positive_int, default=2, help="parallel worker processes (default 2)"
    )
    s.add_argument(
        "--ray", metavar="ADDR", help="run on a Ray cluster at ADDR ('local' starts one here)"
    )
    s.add_argument(
        "--pack-seeds",
        choices=("auto", "on", "off"),
        default="auto",
        help="train the seeds of each game x method as one batched program: on, off, or auto "
        "(on a GPU only; on a CPU it measured no faster; default auto)",
    )
    s.add_argument("--suite", action="append", help="only this suite (repeatable), e.g. minatar")
    s.add_argument("--game", action="append", help="only this game (repeatable), e.g. Breakout")
    s.add_argument("--method", action="append", help="only this method (repeatable)")
    s.add_argument(
        "--add-spec",
        action="store_true",
        help="OUT records another spec (experiment file or overrides): record this one beside "
        "it (experiment.N.yaml) instead of refusing; each run's own config decides reuse",
    )

    r = sub.add_parser(
        "report",
        help="tables (mean, IQM, bootstrap CIs), comparisons, charts of a sweep or a World Models run",
    )
    r.add_argument("out", help="sweep directory, or a World Models run directory")
    r.add_argument(
        "--include",
        action="append",
        metavar="SWEEP_DIR",
        help="add another sweep's runs of this experiment's methods (same planning model and "
        "shape, suite, game and steps), e.g. planning_shape's perfect-model runs (repeatable)",
    )
    r.add_argument(
        "--experiment",
        metavar="FILE",
        help="take the comparisons (A vs B pairs) from this experiment file, not the sweep's record",
    )


def _add_demo_command(sub: Any) -> None:
    """demo: the lecture's first chart in miniature."""
    d = sub.add_parser(
        "demo", help="the main job: DQN vs extra updates vs Dyna 100x1 vs Rollout-Dyna 10x10"
    )
    d.add_argument("--out", default="runs/demo", help="sweep directory (default runs/demo)")
    d.add_argument(
        "--game", default="MinAtar/Breakout-v1", help="a MinAtar game (default MinAtar/Breakout-v1)"
    )
    d.add_argument(
        "--steps", type=positive_int, default=30_000, help="real steps per run (default 30000)"
    )
    d.add_argument("--seeds", type=positive_int, default=2, help="seeds per method (default 2)")
    d.add_argument(
        "--workers", type=positive_int, default=2, help="parallel worker processes (default 2)"
    )


def _add_data_commands(sub: Any) -> None:
    """collect, model-train and model-error: the pretrained model's data and its errors."""
    co = sub.add_parser(
        "collect", help="play a trained run's checkpoint and write an expert dataset"
    )
    co.add_argument("run_dir", help="a trained run (its newest checkpoint plays)")
    co.add_argument("--steps", type=positive_int, required=True, help="real steps to record")
    co.add_argument("--out", required=True, help="dataset directory to create")
    co.add_argument(
        "--epsilon",
        type=probability,
        default=0.05,
        help="exploration while collecting (default 0.05)",
    )
    co.add_argument(
        "--seed", type=non_negative_int, default=0, help="episodes' and ε's seed (default 0)"
    )

    mt = sub.add_parser(
        "model-train",
        help="train the learned pixel model on a dataset (for planning.model=pretrained)",
    )
    mt.add_argument("dataset", help="a dataset directory written by 'dynaworld collect'")
    mt.add_argument(
        "config", help="a training config of the same game (its model.* settings are used)"
    )
    mt.add_argument(
        "overrides", nargs="*", help="key=value overrides of CONFIG, e.g. model.lr=1e-4"
    )
    mt.add_argument(
        "--out", required=True, help="model checkpoint to write, e.g. models/breakout.pt"
    )
    mt.add_argument(
        "--updates", type=non_negative_int, default=20_000, help="model updates (default 20000)"
    )
    mt.add_argument(
        "--init",
        help="start from this model checkpoint (fresh optimizer); with --updates 0 only measure it",
    )
    mt.add_argument(
        "--seed", type=non_negative_int, default=0, help="initialisation and batches (default 0)"
    )

    me = sub.add_parser(
        "model-error",
        help="measure runs' learned models at their newest checkpoint (k-step and termination "
        "errors on held-out episodes); adds missing termination_error.csv rows",
    )
    me.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="runs with a learned model")


def _add_other_commands(sub: Any) -> None:
    """worldmodels and config."""
    add_parser(sub)

    c = sub.add_parser("config", help="list every config key with its default and documentation")
    c.add_argument("config", nargs="?", help="show this file fully resolved instead")
    c.add_argument("overrides", nargs="*", help="key=value overrides of CONFIG")
    c.add_argument(
        "--worldmodels", action="store_true", help="the World Models pipeline's keys instead"
    )
    c.add_argument(
        "--list", action="store_true", help="the configs and experiments that ship, by name"
    )


def _bounded(e: Exception, limit: int = 4000) -> str:
    """An error message at most ``limit`` characters long (a value read from a crafted file can
    be megabytes)."""
    text = str(e)
    return (
        text
        if len(text) <= limit
        else f"{text[:limit]} ... ({len(text) - limit:,} more characters)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    if (
        "" not in sys.path and os.getcwd() not in sys.path
    ):  # your own modules, as python -m sees them
        sys.path.insert(0, os.getcwd())  # (a run folder's own files stay refused: imports.py)
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may also come after the options (e.g. ... --workers 4 total_steps=1000)
    if (
        extra
        and hasattr(args, "overrides")
        and all("=" in x and not x.startswith("-") for x in extra)
    ):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        # the one deferred import: the commands need torch, parsing (and --help) does not
        commands = importlib.import_module(f"dynaworld.cli.{_MODULE.get(args.command, 'commands')}")
        status = int(commands.COMMANDS[args.command](args))
        sys.stdout.flush()  # here, so a closed pipe is caught below, not at interpreter exit
        return status
    except RunsFailed as e:
        print(f"dynaworld: error: {_bounded(e)}", file=sys.stderr)
        return 1
    except DynaworldError as e:
        print(f"dynaworld: error: {_bounded(e)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # dynaworld config | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as e:
        print(f"dynaworld: {str(e) or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
