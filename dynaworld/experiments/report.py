"""Reports of a sweep: tables with mean ± 95% CI over seeds, bar charts and learning curves.

``report(DIR)`` reads ``DIR/results.csv`` (and each run's metrics.csv) and writes
``DIR/report.md``, one bar chart per game (``DIR/charts/<suite>_<game>.png``, lecture style:
one bar per method with its 95% CI) and learning curves (``DIR/charts/curves_<suite>_<game>.png``).
Atari games also get human-normalised scores, (score − random) / (human − random).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.config import load_yaml
from dynaworld.errors import DynaworldError
from dynaworld.registry import MODELS
from dynaworld.runlog import read_csv, read_metrics

# Random and human reference scores (Atari-100k literature).
ATARI_REFERENCE = {
    "Pong": (-20.7, 14.6),
    "Breakout": (1.7, 30.5),
    "Seaquest": (68.4, 42054.7),
    "Freeway": (0.0, 29.6),
    "MsPacman": (307.3, 6951.6),
    "Boxing": (0.1, 12.1),
}
# two-sided 95% Student-t quantiles by degrees of freedom
_T95 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]
# Lecture colours: the methods chart, and online (orange) / pre-trained (blue) / perfect (green).
FAMILY_COLORS = {
    "DQN 100k": "#4c72b0",
    "DQN": "#4c72b0",
    "DQN extra updates": "#dd8452",
    "DQN 10M": "#55a868",
    "Dyna-DQN": "#c44e52",
    "Rollout-Dyna-DQN": "#8172b3",
    "online": "#ff7f0e",
    "pretrained": "#1f77b4",
    "perfect": "#2ca02c",
    # model kinds (experiments/model_kinds.yaml)
    "linear": "#8c564b",
    "GP": "#2ca02c",
    "sparse GP": "#98df8a",
    "ensemble": "#ff7f0e",
    "LSTM": "#9467bd",
}


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% confidence interval (Student t; 0 for a single value)."""
    x = np.asarray(values, float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else math.nan, 0.0
    t = _T95[len(x) - 2] if len(x) - 1 <= len(_T95) else 1.96
    return float(x.mean()), float(t * x.std(ddof=1) / math.sqrt(len(x)))


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
    return rows


def method_keys(out: Path) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(planning model, shape) → (method, label, family) of the experiment that made ``out``
    (named in ``out/experiment.yaml``). DQN's key is ('none', '')."""
    from dynaworld.config import PlanningConfig, merge
    from dynaworld.experiments.experiment import Experiment

    info = out / "experiment.yaml"
    record = load_yaml(info) if info.is_file() else {}
    if isinstance(record.get("experiment"), dict):  # the spec holds the file's contents
        exp = Experiment.from_data(record["experiment"], record.get("experiment_file", info))
    else:  # a dynaworld <= 0.1 record names the file
        path = record.get("experiment")
        if not path or not Path(path).is_file():
            raise DynaworldError(
                f"--include matches runs to the methods of {out}'s experiment file, named in "
                f"{info}: {'that file is missing' if not path else f'{path} not found'}"
            )
        exp = Experiment.load(path)
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


def eval_curve(run_dir: str) -> dict[float, float] | None:
    """A run's evaluation returns during training, by env step (None without metrics.csv)."""
    try:
        rows = read_metrics(run_dir)
    except FileNotFoundError:
        return None
    return {r["env_steps"]: r["eval_return_mean"] for r in rows if "eval_return_mean" in r}


def mean_eval_return(run_dir: str) -> float | None:
    """Sample efficiency of one run: its mean evaluation return over every evaluation during
    training (the area under the learning curve over the steps, for evenly spaced evaluations)."""
    curve = eval_curve(run_dir)
    return float(np.mean(list(curve.values()))) if curve else None


def cell(values: list[float]) -> str:
    """A table cell: mean ± 95% CI (n), or '–' without values."""
    if not values:
        return "–"
    mu, ci = mean_ci(values)
    return f"{mu:.2f} ± {ci:.2f} ({len(values)})"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(
    title: str,
    labels: list[str],
    means: list[float],
    cis: list[float],
    colors: list[str],
    path: Path,
    ylabel: str = "final evaluation return",
) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(labels) + 1.5), 4.0), dpi=120)
    xs = np.arange(len(labels))
    ax.bar(xs, means, yerr=cis, color=colors, capsize=4, edgecolor="black", linewidth=0.5)
    ax.set_xticks(xs, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def learning_curves(title: str, runs: dict[str, list[str]], path: Path) -> Path | None:
    """Mean ± 95% CI of the evaluation return against env steps, one line per method."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    drawn = False
    for label, dirs in runs.items():
        curves = [c for c in map(eval_curve, dirs) if c is not None]
        steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
        if not steps:
            continue
        stats = [mean_ci([c[s] for c in curves]) for s in steps]
        m = np.array([s[0] for s in stats])
        h = np.array([s[1] for s in stats])
        ax.plot(steps, m, marker="o", ms=3, label=f"{label} (n={len(curves)})")
        ax.fill_between(steps, m - h, m + h, alpha=0.2)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def final_model_errors(dirs: list[str]) -> np.ndarray | None:
    """Each run's last k-step error row set from model_error.csv: runs × k × (state, reward)."""
    per_run = []
    for d in dirs:
        p = Path(d) / "model_error.csv"
        if not p.is_file():
            continue
        rows = read_csv(p)
        if not rows:
            continue
        last = max(int(r["env_steps"]) for r in rows)
        per_run.append(
            sorted(
                (int(r["k"]), float(r["frame_error"]), float(r["reward_error"]))
                for r in rows
                if int(r["env_steps"]) == last
            )
        )
    if not per_run:
        return None
    k = min(len(p) for p in per_run)
    return np.array([[row[1:] for row in p[:k]] for p in per_run])


def final_termination_errors(dirs: list[str]) -> np.ndarray | None:
    """Each run's last row of termination_error.csv: runs × (recall, false alarm)."""
    per_run = []
    for d in dirs:
        p = Path(d) / "termination_error.csv"
        if p.is_file() and (rows := read_csv(p)):
            last = max(rows, key=lambda r: int(r["env_steps"]))
            per_run.append((float(last["recall"]), float(last["false_alarm"])))
    return np.array(per_run) if per_run else None


def model_error_chart(title: str, runs: dict[str, list[str]], path: Path) -> Path | None:
    """Final k-step prediction error (frames or states, and rewards, steps 1..k) of each model."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=120)
    drawn = False
    for label, dirs in runs.items():
        arr = final_model_errors(dirs)
        if arr is None:
            continue
        ks = np.arange(1, arr.shape[1] + 1)
        a1.plot(ks, arr[:, :, 0].mean(0), marker="o", ms=3, label=f"{label} (n={len(arr)})")
        a2.plot(ks, arr[:, :, 1].mean(0), marker="o", ms=3, label=label)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    a1.set(xlabel="prediction step k", ylabel="frame / state error", title="frames or states")
    a2.set(xlabel="prediction step k", ylabel="|reward error|", title="rewards")
    for a in (a1, a2):
        a.grid(alpha=0.3)
    a1.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def report(out: str | Path, include: list[str | Path] | None = None) -> Path:
    """Write ``out/report.md`` and the charts; return the report's path. ``include``: other sweep
    directories whose runs of this experiment's methods join the tables and charts."""
    out = Path(out)
    rows = read_results(out)
    if include:
        rows = included_rows(out, include, rows)
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        groups[(r["suite"], r["game"])][r["method"]].append(r)
    lines = [
        f"# Report: {out.name}",
        "",
        f"{len(rows)} finished runs from `{out / 'results.csv'}`"
        + "".join(f" and `{Path(o) / 'results.csv'}`" for o in include or [])
        + ". "
        "Each cell: final evaluation return, mean ± 95% CI over seeds (Student t), n seeds.",
        "",
    ]
    charts: list[Path] = []
    for suite in sorted({s for s, _ in groups}):
        games = sorted(g for s, g in groups if s == suite)
        methods = list(dict.fromkeys(r["method"] for r in rows if r["suite"] == suite))
        labels = {r["method"]: r["label"] for r in rows}
        lines += [
            f"## {suite}",
            "",
            "| game | " + " | ".join(labels[m] for m in methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        norm: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []  # model prediction error rows
        efficiency: list[str] = []  # mean evaluation return over training, per game
        for g in games:
            cells, auc = [], []
            for m in methods:
                rs = groups[(suite, g)].get(m, [])
                vals = [float(r["eval_return_mean"]) for r in rs]
                cells.append(cell(vals))
                means = [mean_eval_return(r["run_dir"]) for r in rs]
                auc.append(cell([x for x in means if x is not None]))
                hn = [human_normalised(r["env_id"], v) for r, v in zip(rs, vals, strict=True)]
                if vals and all(x is not None for x in hn):
                    norm[m].append(float(np.mean(hn)))  # type: ignore[arg-type]
            lines.append(f"| {g} | " + " | ".join(cells) + " |")
            efficiency.append(f"| {g} | " + " | ".join(auc) + " |")
            present = [m for m in methods if groups[(suite, g)].get(m)]
            most = max(len(groups[(suite, g)][m]) for m in present)
            stats = [
                mean_ci([float(r["eval_return_mean"]) for r in groups[(suite, g)][m]])
                for m in present
            ]
            colors = [
                FAMILY_COLORS.get(groups[(suite, g)][m][0]["family"], "#999999") for m in present
            ]
            charts.append(
                bar_chart(
                    f"{g} ({suite})",
                    # a bar from fewer seeds than the others says so under its name
                    [
                        labels[m] + (f"\n(n={len(rs)})" if len(rs) < most else "")
                        for m in present
                        for rs in [groups[(suite, g)][m]]
                    ],
                    [s[0] for s in stats],
                    [s[1] for s in stats],
                    colors,
                    out / "charts" / f"{suite}_{g}.png",
                )
            )
            run_dirs = {labels[m]: [r["run_dir"] for r in groups[(suite, g)][m]] for m in present}
            for label, dirs in run_dirs.items():
                arr = final_model_errors(dirs)
                if arr is not None:
                    ends = [mean_ci(list(arr[:, j, 0])) for j in (0, arr.shape[1] - 1)]
                    term = final_termination_errors(dirs)
                    ends += [mean_ci(list(term[:, j])) for j in (0, 1)] if term is not None else []
                    cells = [f"{mu:.4f} ± {ci:.4f}" for mu, ci in ends] + ["–"] * (4 - len(ends))
                    errors.append(
                        f"| {g} | {label} | {arr.shape[1]} | "
                        + " | ".join(cells)
                        + f" | {len(arr)} |"
                    )
            for draw, name, what in (
                (learning_curves, "curves", "evaluation during training"),
                (model_error_chart, "model_error", "model prediction error on held-out data"),
            ):
                chart = draw(
                    f"{g} ({suite}): {what}", run_dirs, out / "charts" / f"{name}_{suite}_{g}.png"
                )
                if chart:
                    charts.append(chart)
        lines += [
            "",
            "Sample efficiency: mean evaluation return over all evaluations during training (the "
            "area under the learning curve divided by its length), mean ± 95% CI over seeds:",
            "",
            "| game | " + " | ".join(labels[m] for m in methods) + " |",
            "|---|" + "---|" * len(methods),
            *efficiency,
        ]
        if errors:
            lines += [
                "",
                "Model prediction error on held-out episodes at the end of training (open loop "
                "with the recorded actions; frames: wrong cells / pixel error, vector states: "
                "|error| / state std), mean ± 95% CI over seeds. Termination (one step, from "
                "held-out real transitions): recall = terminal transitions predicted terminal, "
                "false alarm = non-terminal ones predicted terminal (– : not measured).",
                "",
                "| game | method | k | error at step 1 | error at step k | termination recall "
                "| false termination | n |",
                "|---|---|---|---|---|---|---|---|",
                *errors,
            ]
        if norm:
            lines += [
                "",
                f"Human-normalised score, mean over games ({', '.join(games)}):",
                "",
                "| method | HNS |",
                "|---|---|",
            ]
            for m in methods:
                if norm.get(m):
                    lines.append(f"| {labels[m]} | {np.mean(norm[m]):.3f} |")
        lines += [
            "",
            "Wall time per run (s), mean: "
            + ", ".join(
                f"{labels[m]} {np.mean([float(r['wall_time_s']) for r in rows if r['suite'] == suite and r['method'] == m]):.0f}"
                for m in methods
            ),
            "",
        ]
    lines += ["## Charts", ""] + [f"![{c.stem}](charts/{c.name})" for c in charts] + [""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
