"""The charts of a sweep's report: bars with 95% CIs, learning curves, model-error curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.experiments.stats import mean_ci
from dynaworld.runlog import read_csv, read_metrics

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
