"""The charts of a sweep's report: bars, learning curves and model-error curves.

Every chart says what its marks are: the mean over seeds (n given per bar and per curve) with a
95% stratified bootstrap CI (``stats.interval``). A report gives each method one colour and one
marker (``styles``), the same in every chart.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.files import save_figure
from dynaworld.runlog import read_csv, read_metrics
from dynaworld.studies.stats import Interval, interval

# One colour and marker per method, in the experiment's order (colour-blind-safe Tableau 10).
PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
           "#1b9e77", "#ccb974", "#64b5cd"]  # fmt: skip
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
Style = tuple[str, str]  # (colour, marker)
CI_NOTE = "mean over seeds; error bars: 95% CI\n(bootstrap; Student t below 8 seeds)"


def method_styles(labels: list[str]) -> dict[str, Style]:
    """Each method's (colour, marker), fixed by its place in the experiment's method list."""
    return {m: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, m in enumerate(labels)}


def eval_curve(run_dir: str) -> dict[float, float] | None:
    """A run's evaluation returns during training, by env step (None without metrics.csv)."""
    try:
        rows = read_metrics(run_dir)
    except FileNotFoundError:
        return None
    return {r["env_steps"]: r["eval_return_mean"] for r in rows if "eval_return_mean" in r}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(
    title: str,
    labels: list[str],
    intervals: list[Interval],
    styles: dict[str, Style],
    path: Path,
    ylabel: str = "final evaluation return",
) -> Path:
    """One bar per method: its mean and 95% bootstrap CI (asymmetric), n under its name."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(labels) + 1.5), 4.2), dpi=120)
    xs = np.arange(len(labels))
    means = np.array([iv.point for iv in intervals])
    err = np.array([[iv.point - iv.lo for iv in intervals], [iv.hi - iv.point for iv in intervals]])
    colors = [styles[m][0] for m in labels]
    ax.bar(xs, means, yerr=err, color=colors, capsize=4, edgecolor="black", linewidth=0.5)
    names = [f"{m}\n(n={iv.n})" for m, iv in zip(labels, intervals, strict=True)]
    ax.set_xticks(xs, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\n{CI_NOTE}", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, root=path.parent.parent)  # SWEEP/charts/NAME.png: no link on the way
    plt.close(fig)
    return path


def _band(ax: Any, xs: Any, values: list[list[float]], style: Style, label: str) -> None:
    """A mean line with a light 95% bootstrap band; ``values[i]``: the seeds' values at xs[i]."""
    ivs = [interval(v) for v in values]
    m = np.array([iv.point for iv in ivs])
    color, marker = style
    ax.plot(xs, m, color=color, marker=marker, ms=3.5, lw=1.4, label=label)
    ax.fill_between(xs, [iv.lo for iv in ivs], [iv.hi for iv in ivs], color=color, alpha=0.12)


def learning_curves(
    title: str, runs: dict[str, list[str]], styles: dict[str, Style], path: Path
) -> Path | None:
    """The evaluation return against env steps: per method the mean over seeds and its 95%
    bootstrap band; with more than 4 methods, one panel per method over the others in grey."""
    plt = _plt()
    series = {}
    for label, dirs in runs.items():
        curves = [c for c in map(eval_curve, dirs) if c is not None]
        steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
        if steps:
            series[label] = (steps, [[c[s] for c in curves] for s in steps], len(curves))
    if not series:
        return None
    panels = list(series) if len(series) > 4 else [None]
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.6 * cols + 0.8, 2.9 * rows + 0.6), dpi=120, squeeze=False,
        sharex=True, sharey=True,
    )  # fmt: skip
    for ax, focus in zip(axes.flat, panels, strict=False):
        for label, (steps, values, n) in series.items():
            if focus is not None and label != focus:
                ax.plot(steps, [np.mean(v) for v in values], color="#bbbbbb", lw=0.8)
                continue
            _band(ax, steps, values, styles[label], f"{label} (n={n})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k" if x else "0")
    for ax in axes[:, 0]:
        ax.set_ylabel("evaluation return")
    grey = "; grey: the other methods' means" if panels != [None] else ""
    fig.suptitle(f"{title}\n{CI_NOTE.replace('error bars', 'bands')}{grey}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, root=path.parent.parent)
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


def model_error_chart(
    title: str, runs: dict[str, list[str]], styles: dict[str, Style], path: Path
) -> Path | None:
    """Final k-step prediction error (frames or states, and rewards, steps 1..k) of each model:
    the mean over seeds with its 95% bootstrap band."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.0, 3.8), dpi=120)
    drawn = False
    for label, dirs in runs.items():
        arr = final_model_errors(dirs)
        if arr is None:
            continue
        ks = np.arange(1, arr.shape[1] + 1)
        _band(a1, ks, [list(arr[:, j, 0]) for j in range(len(ks))], styles[label],
              f"{label} (n={len(arr)})")  # fmt: skip
        _band(a2, ks, [list(arr[:, j, 1]) for j in range(len(ks))], styles[label], label)
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    a1.set(
        xlabel="prediction step k (open loop)",
        ylabel="frame error (wrong cells / pixels)\nor state error (|error| / state std)",
        title="frames or states",
    )
    a2.set(xlabel="prediction step k (open loop)", ylabel="|reward error| (reward units)",
           title="rewards")  # fmt: skip
    for a in (a1, a2):
        a.grid(alpha=0.3)
    a1.legend(fontsize=7)
    fig.suptitle(f"{title}\n{CI_NOTE.replace('error bars', 'bands')}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, root=path.parent.parent)
    plt.close(fig)
    return path
