"""The studies' ``dynaworld`` commands (sweep, report, demo, worldmodels), given their parsed
arguments: kept apart from ``commands`` because they import the statistics and charts (scipy,
matplotlib), which training and evaluation do not need."""

from __future__ import annotations

import argparse
from pathlib import Path

from dynaworld.cli import wm_commands
from dynaworld.studies import Experiment, run_sweep
from dynaworld.studies import report as sweep_report
from dynaworld.studies.demo import demo as run_demo
from dynaworld.studies.worldmodels.table import report as wm_report


def sweep(a: argparse.Namespace) -> int:
    run_sweep(
        Experiment.load(a.experiment),
        a.out,
        seeds=a.seeds,
        workers=a.workers,
        ray_address=a.ray,
        suites=a.suite,
        overrides=a.overrides,
        games=a.game,
        methods=a.method,
        add_spec=a.add_spec,
        pack=a.pack_seeds,
    )
    return 0


def report(a: argparse.Namespace) -> int:
    if list(Path(a.out).glob("C_*/eval.json")):  # a World Models run directory
        print(f"dynaworld: report {wm_report([a.out])}")
        return 0
    path = sweep_report(a.out, a.include, a.experiment)
    print(f"dynaworld: report {path}")
    return 0


def demo(a: argparse.Namespace) -> int:
    run_demo(a.out, a.game, a.steps, a.seeds, a.workers)
    return 0


def worldmodels(a: argparse.Namespace) -> int:
    return wm_commands.handle(a)


COMMANDS = {
    "sweep": sweep,
    "report": report,
    "demo": demo,
    "worldmodels": worldmodels,
}
