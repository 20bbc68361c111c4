"""Settings compared over their controllers' real episodes (``dynaworld worldmodels compare``).

A setting is one or more C folders (CMA-ES repeats of one M, τ and iteration). Each is tested
two ways, since they answer different questions:

* episodes pooled (every C's 100 real episodes one sample): is what these C's do different?
  Welch's t against the first setting, a one-sample t against ``target``;
* runs as the unit (each C's mean one value): would a new CMA-ES run of the setting differ?
  Welch's t on the per-run means (needs two runs a side) and a 95% bootstrap CI over runs.

Holm's correction is over every test of the table, the family the command was asked for.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from dynaworld.errors import DynaworldError
from dynaworld.files import read_json
from dynaworld.studies.stats import cell, holm, welch_p
from dynaworld.worldmodels.run import eval_check, iteration_of


def read_setting(spec: str) -> tuple[str, list[dict[str, Any]]]:
    """``[NAME=]C_DIR[,C_DIR...]`` (a C folder or its eval.json) -> its name and evaluations."""
    name, _, paths = spec.rpartition("=")
    evals = []
    for p in (Path(x) for x in paths.split(",") if x):
        path = p if p.suffix == ".json" else p / "eval.json"
        if not path.exists():
            raise DynaworldError(f"{path} not found: evaluate the controller first")
        e = read_json(path, "controller evaluation")
        if eval_check(e, path.parent) == "stale":
            raise DynaworldError(f"{path} is stale: C was trained on after it; run evaluate")
        evals.append(e | {"path": str(path)})
    if not evals:
        raise DynaworldError(f"setting {spec!r} names no C folder")
    run = Path(evals[0]["path"]).parent.parent  # a C folder's run, or its iter<k>/ folder
    return name or (
        f"{run.parent.name}/{run.name}" if iteration_of(run) is not None else run.name
    ), evals


def compare(specs: list[str], target: float | None = None) -> list[str]:
    """The Markdown table comparing each setting of ``specs`` with the first (and ``target``)."""
    settings = [read_setting(s) for s in specs]  # every file read before any number is printed
    episodes = [np.concatenate([e["returns"] for e in es]) for _, es in settings]
    runs = [[float(e["mean"]) for e in es] for _, es in settings]
    rows = []
    for i, (x, r) in enumerate(zip(episodes, runs, strict=True)):
        to_target = (
            float(sps.ttest_1samp(x, target).pvalue) if target is not None and x.std() else math.nan
        )
        first = (
            (welch_p(episodes[0].tolist(), x.tolist()), welch_p(runs[0], r))
            if i
            else (math.nan, math.nan)
        )
        rows.append((x, r, to_target, *first))
    adjusted = iter(holm([p for row in rows for p in row[2:]]))
    lines = [
        "| setting | runs: mean each | episodes | mean ± std (pooled) | median | "
        + (f"≥ {target:g} | p vs {target:g} (Holm) | " if target is not None else "")
        + "p vs first, episodes (Holm) | over runs: mean [95% CI] | p vs first, runs (Holm) |",
        "|---|---|---|---|---|" + ("---|---|" if target is not None else "") + "---|---|---|",
    ]
    for (name, _), (x, r, pt, pe, pr) in zip(settings, rows, strict=True):
        ht, he, hr = next(adjusted), next(adjusted), next(adjusted)
        cells = [
            name,
            ", ".join(f"{m:.1f}" for m in r),
            str(len(x)),
            f"{x.mean():.1f} ± {x.std():.1f}",
            f"{np.median(x):g}",
        ]
        if target is not None:
            cells += [f"{(x >= target).mean():.0%}", _p(pt, ht)]
        cells += [_p(pe, he), cell(r, digits=1), _p(pr, hr)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _p(p: float, adjusted: float) -> str:
    return "—" if math.isnan(p) else f"{p:.2g} ({adjusted:.2g})"
