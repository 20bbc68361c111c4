"""Reports of a sweep: tables over seeds, comparisons, bar charts and learning curves.

``report(DIR)`` reads ``DIR/results.csv`` (and each run's metrics.csv) and writes
``DIR/report.md``: per game the mean and the IQM of the final return and the mean of sample
efficiency, each with a 95% stratified bootstrap CI (``stats``); the comparisons the experiment
file declares (probability of improvement, Welch's t-test, Holm-corrected over all of them);
one bar chart per game (``DIR/charts/<suite>_<game>.png``) and learning curves
(``DIR/charts/curves_<suite>_<game>.png``). Atari games also get human-normalised scores,
(score − random) / (human − random).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.config import PlanningConfig, load_yaml, merge
from dynaworld.errors import DynaworldError
from dynaworld.files import atomic_write
from dynaworld.registry import MODELS
from dynaworld.rundir import check_no_links
from dynaworld.runlog import read_csv
from dynaworld.studies.charts import (
    Style,
    bar_chart,
    eval_curve,
    final_model_errors,
    final_termination_errors,
    learning_curves,
    method_styles,
    model_error_chart,
)
from dynaworld.studies.experiment import Experiment
from dynaworld.studies.random_policy import random_section
from dynaworld.studies.record import check_names
from dynaworld.studies.stats import (
    cell,
    cell_text,
    holm,
    interval,
    probability_of_improvement,
    welch_p,
)

# Random and human reference scores (Atari-100k literature).
ATARI_REFERENCE = {
    "Pong": (-20.7, 14.6),
    "Breakout": (1.7, 30.5),
    "Seaquest": (68.4, 42054.7),
    "Freeway": (0.0, 29.6),
    "MsPacman": (307.3, 6951.6),
    "Boxing": (0.1, 12.1),
}


def human_normalised(env_id: str, score: float) -> float | None:
    """Atari only: (score − random) / (human − random); None for other games."""
    if not env_id.startswith("ALE/"):
        return None
    ref = ATARI_REFERENCE.get(env_id.split("/")[-1].rsplit("-v", 1)[0])
    return None if ref is None else (score - ref[0]) / (ref[1] - ref[0])


def read_results(out: Path) -> list[dict[str, Any]]:
    path = out / "results.csv"
    if not path.is_file():
        raise DynaworldError(
            f"{path} not found: run 'dynaworld sweep EXPERIMENT --out {out}' first"
        )
    rows: list[dict[str, Any]] = list(read_csv(path))
    if not rows:
        raise DynaworldError(f"{path} holds no finished run")
    for i, r in enumerate(rows, start=2):
        check_names(r, f"{path} line {i}")
    return rows


def recorded_experiment(out: Path) -> Experiment:
    """The experiment that made the sweep ``out`` (recorded in ``out/experiment.yaml``)."""
    info = out / "experiment.yaml"
    record = load_yaml(info) if info.is_file() else {}
    if isinstance(record.get("experiment"), dict):  # the spec holds the file's contents
        exp = Experiment.from_data(record["experiment"], record.get("experiment_file", info))
    else:  # a dynaworld <= 0.1 record names the file
        path = record.get("experiment")
        if not path or not Path(path).is_file():
            raise DynaworldError(
                f"the report reads {out}'s experiment from the file named in {info}: "
                f"{'that file is missing' if not path else f'{path} not found'}"
            )
        exp = Experiment.load(path)
    return exp


def method_keys(out: Path) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(planning model, shape) → (method, label, family) of the experiment that made ``out``.
    DQN's key is ('none', '')."""
    exp = recorded_experiment(out)
    keys = {}
    for method in exp.methods:
        label, family, settings = exp.method(method)
        planning = merge(exp.base, settings).get("planning") or {}
        model = str(planning.get("model", PlanningConfig.model))
        plans = model not in MODELS or MODELS[model].plan != "none"
        shape = str(planning.get("shape", PlanningConfig.shape)) if plans else ""
        keys[(model, shape)] = (method, label, family)
    return keys


def included_rows(out: Path, others: list[str | Path], own: list[dict[str, Any]]) -> list[dict]:
    """Finished runs of other sweeps that count as methods of this one: a suite and game of
    this sweep, the same number of real steps, planning model and shape (e.g. planning_shape's
    perfect-model and DQN runs in model_relaxation's chart), renamed as this experiment's
    method. This sweep's own runs of a method take precedence."""
    keys = method_keys(out)
    have = {(r["suite"], r["game"], r["method"]) for r in own}
    steps = {(r["suite"], r["game"]): r["env_steps"] for r in own}
    rows = []
    for other in others:
        for r in read_results(Path(other)):
            match = keys.get((r["model"], r["shape"]))
            where = (r["suite"], r["game"])
            if match is None or steps.get(where) != r["env_steps"]:  # only this sweep's games
                continue
            if (*where, match[0]) not in have:
                rows.append({**r, "method": match[0], "label": match[1], "family": match[2]})
    order = {m: i for i, (m, _, _) in enumerate(keys.values())}
    return sorted(own + rows, key=lambda r: order.get(r["method"], len(order)))


def mean_eval_return(run_dir: str) -> float | None:
    """Sample efficiency of one run: its mean evaluation return over every evaluation during
    training (the area under the learning curve over the steps, for evenly spaced evaluations)."""
    curve = eval_curve(run_dir)
    return float(np.mean(list(curve.values()))) if curve else None


Groups = dict[tuple[str, str], dict[str, list[dict[str, Any]]]]


def report(
    out: str | Path, include: list[str | Path] | None = None, experiment: str | Path | None = None
) -> Path:
    """Write ``out/report.md`` and the charts; return the report's path. ``include``: other sweep
    directories whose runs of this experiment's methods join the tables and charts.
    ``experiment``: take the comparisons from this experiment file instead of the sweep's record."""
    out = Path(out)
    check_no_links(
        out,
        tuple(n for n in ("report.md", "charts") if (out / n).exists() or (out / n).is_symlink()),
    )
    rows = read_results(out)
    if include:
        rows = included_rows(out, include, rows)
    groups: Groups = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[(r["suite"], r["game"])][r["method"]].append(r)
    pairs, source = declared_comparisons(out, experiment)
    styles = method_styles(list(dict.fromkeys(r["label"] for r in rows)))
    lines = [
        f"# Report: {out.name}",
        "",
        f"{len(rows)} finished runs from `{out / 'results.csv'}`"
        + "".join(f" and `{Path(o) / 'results.csv'}`" for o in include or [])
        + ". Each cell: the statistic over seeds with its 95% CI in brackets and n, the number "
        "of seeds: a stratified bootstrap from 8 seeds up; below 8 Student's t-interval for a "
        "mean (`t[...]`) and none for an IQM (a bootstrap of a handful of values is too narrow); "
        "one seed: no interval.",
        "",
    ]
    charts: list[Path] = []
    tests: list[list[Any]] = []
    for suite in sorted({s for s, _ in groups}):
        lines += suite_section(out, suite, groups, rows, charts, styles)
        tests += comparison_rows(suite, groups, pairs)
    lines += comparisons_section(tests, source)
    lines += ["## Charts", ""] + [f"![{c.stem}](charts/{c.name})" for c in charts] + [""]
    path = out / "report.md"
    with atomic_write(path, "w", root=out) as f:
        f.write("\n".join(lines))
    return path


def declared_comparisons(
    out: Path, experiment: str | Path | None
) -> tuple[list[tuple[str, str]], str]:
    """The (A, B) method pairs to compare, and where they were declared."""
    if experiment is not None:
        exp = Experiment.load(experiment)
        return exp.comparisons, f"the experiment `{experiment}` (given with --experiment)"
    try:
        exp = recorded_experiment(out)
    except DynaworldError:
        return [], "nowhere (no experiment record)"
    return exp.comparisons, f"the sweep's experiment record `{out / 'experiment.yaml'}`"


def comparison_rows(suite: str, groups: Groups, pairs: list[tuple[str, str]]) -> list[list[Any]]:
    """[suite, game, metric, label A, label B, P(A > B) interval, Welch p] per declared pair,
    game where both methods ran, and metric (final return; sample efficiency)."""
    metrics: dict[str, Any] = {
        "final return": lambda r: float(r["eval_return_mean"]),
        "sample efficiency": lambda r: mean_eval_return(r["run_dir"]),
    }
    out = []
    for a, b in pairs:
        games = [
            g for (s, g), bm in sorted(groups.items()) if s == suite and bm.get(a) and bm.get(b)
        ]
        for metric, f in metrics.items():
            xs, ys = [], []
            for g in games:
                by_method = groups[(suite, g)]
                la, lb = by_method[a][0]["label"], by_method[b][0]["label"]
                x = [v for v in map(f, by_method[a]) if v is not None]
                y = [v for v in map(f, by_method[b]) if v is not None]
                if x and y:
                    pi = probability_of_improvement(x, y)
                    out.append([suite, g, metric, la, lb, pi, welch_p(x, y)])
                    xs.append(x)
                    ys.append(y)
            if len(xs) > 1:  # every game together (not a test of the family)
                pi = probability_of_improvement(xs, ys)
                out.append([suite, "all games", metric, la, lb, pi, math.nan])
    return out


def comparisons_section(tests: list[list[Any]], source: str) -> list[str]:
    if not tests:
        return []
    adjusted = holm([t[6] for t in tests])
    lines = [
        "## Comparisons",
        "",
        f"Pairs declared in {source}; per run its final evaluation return and its sample "
        "efficiency (defined above). P(A > B): the "
        "probability that a run of A scores above a run of B (ties count 1/2), with its 95% "
        "stratified bootstrap CI ('all games': averaged over the games, seeds resampled within "
        "each); Welch's two-sided t-test, and its p-value Holm-corrected over "
        f"all {sum(1 for t in tests if t[6] == t[6])} tests of this report (– : fewer than 2 "
        "seeds a side, or no variance).",
        "",
        "| suite | game | metric | A | B | P(A > B) | Welch p | Holm p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, h in zip(tests, adjusted, strict=True):
        p = "–" if t[6] != t[6] else f"{t[6]:.3g}"
        q = "–" if h != h else f"{h:.3g}"
        lines.append(f"| {' | '.join(t[:5])} | {cell_text(t[5])} | {p} | {q} |")
    return [*lines, ""]


def suite_section(
    out: Path,
    suite: str,
    groups: Groups,
    rows: list[dict[str, Any]],
    charts: list[Path],
    styles: dict[str, Style],
) -> list[str]:
    """A suite's tables (final return: mean and IQM; sample efficiency; model errors; HNS; wall
    time); its charts are appended to ``charts``."""
    games = sorted(g for s, g in groups if s == suite)
    methods = list(dict.fromkeys(r["method"] for r in rows if r["suite"] == suite))
    labels = {r["method"]: r["label"] for r in rows}
    header = [
        "| game | " + " | ".join(labels[m] for m in methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    final, robust, efficiency, errors = [], [], [], []
    norm: dict[str, list[list[float]]] = defaultdict(list)
    for g in games:
        by_method = groups[(suite, g)]
        vals = {m: [float(r["eval_return_mean"]) for r in by_method.get(m, [])] for m in methods}
        final.append(f"| {g} | " + " | ".join(cell(vals[m]) for m in methods) + " |")
        robust.append(f"| {g} | " + " | ".join(cell(vals[m], "IQM") for m in methods) + " |")
        auc = []
        for m in methods:
            rs = by_method.get(m, [])
            means = [mean_eval_return(r["run_dir"]) for r in rs]
            auc.append(cell([x for x in means if x is not None]))
            hn = [human_normalised(r["env_id"], v) for r, v in zip(rs, vals[m], strict=True)]
            if vals[m] and all(x is not None for x in hn):
                norm[m].append([float(x) for x in hn if x is not None])
        efficiency.append(f"| {g} | " + " | ".join(auc) + " |")
        present = [m for m in methods if by_method.get(m)]
        run_dirs = {labels[m]: [r["run_dir"] for r in by_method[m]] for m in present}
        errors += model_error_rows(g, run_dirs)
        charts += game_charts(out, suite, g, by_method, present, labels, styles)
    lines = [f"## {suite}", "", "Final evaluation return, mean:", "", *header, *final]
    lines += ["", "Final evaluation return, IQM (interquartile mean over seeds):", ""]
    lines += [*header, *robust, "", EFFICIENCY, "", *header, *efficiency]
    lines += random_section(out, suite, games, groups, methods, labels)
    if errors:
        lines += ["", MODEL_ERRORS, "", *MODEL_ERROR_HEADER, *errors]
    if norm:
        lines += hns_table(games, norm, [m for m in methods if norm.get(m)], labels)
    wall = {
        m: np.mean(
            [float(r["wall_time_s"]) for r in rows if r["suite"] == suite and r["method"] == m]
        )
        for m in methods
    }
    lines += [
        "",
        "Wall time per run (s), mean: " + ", ".join(f"{labels[m]} {wall[m]:.0f}" for m in methods),
        "",
    ]
    return lines


def hns_table(
    games: list[str], norm: dict[str, list[list[float]]], methods: list[str], labels: dict[str, str]
) -> list[str]:
    """Human-normalised score over a suite's games and seeds (the games are the strata)."""
    return [
        "",
        f"Human-normalised score over games ({', '.join(games)}) and seeds: mean and IQM, each "
        "with its stratified bootstrap 95% CI:",
        "",
        "| method | HNS mean | HNS IQM |",
        "|---|---|---|",
        *(f"| {labels[m]} | {interval(norm[m])} | {interval(norm[m], 'IQM')} |" for m in methods),
    ]


EFFICIENCY = (
    "Sample efficiency: mean evaluation return over all evaluations during training (the "
    "area under the learning curve divided by its length), mean over seeds:"
)
MODEL_ERRORS = (
    "Model prediction error on held-out episodes at the end of training (open loop "
    "with the recorded actions; frames: wrong cells / pixel error, vector states: "
    "|error| / state std), mean over seeds with its 95% bootstrap CI. Termination (one step, "
    "from held-out real transitions): recall = terminal transitions predicted terminal, "
    "false alarm = non-terminal ones predicted terminal (– : not measured)."
)
MODEL_ERROR_HEADER = [
    "| game | method | k | error at step 1 | error at step k | termination recall "
    "| false termination | n |",
    "|---|---|---|---|---|---|---|---|",
]


def game_charts(
    out: Path,
    suite: str,
    g: str,
    by_method: dict[str, list[dict[str, Any]]],
    present: list[str],
    labels: dict[str, str],
    styles: dict[str, Style],
) -> list[Path]:
    """A game's charts: one bar per method (mean and 95% bootstrap CI, n per bar), the learning
    curves and, for learned models, their k-step errors."""
    ivs = [interval([float(r["eval_return_mean"]) for r in by_method[m]]) for m in present]
    names = [labels[m] for m in present]
    charts = [bar_chart(f"{g} ({suite})", names, ivs, styles, out / "charts" / f"{suite}_{g}.png")]
    run_dirs = {labels[m]: [r["run_dir"] for r in by_method[m]] for m in present}
    for draw, name, what in (
        (learning_curves, "curves", "evaluation return during training"),
        (model_error_chart, "model_error", "model prediction error on held-out episodes"),
    ):
        path = out / "charts" / f"{name}_{suite}_{g}.png"
        chart = draw(f"{g} ({suite}): {what}", run_dirs, styles, path)
        if chart:
            charts.append(chart)
    return charts


def model_error_rows(g: str, run_dirs: dict[str, list[str]]) -> list[str]:
    """Rows of the model-error table for one game: each method with a learned model."""
    rows = []
    for label, dirs in run_dirs.items():
        arr = final_model_errors(dirs)
        if arr is None:
            continue
        ends = [interval(list(arr[:, j, 0])) for j in (0, arr.shape[1] - 1)]
        term = final_termination_errors(dirs)
        ends += [interval(list(term[:, j])) for j in (0, 1)] if term is not None else []
        cells = [cell_text(iv, 4).rsplit(" (n=", 1)[0] for iv in ends] + ["–"] * (4 - len(ends))
        rows.append(f"| {g} | {label} | {arr.shape[1]} | " + " | ".join(cells) + f" | {len(arr)} |")
    return rows
