"""Figures a user would rather look at than read: learning curves of a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dynaworld.files import save_figure
from dynaworld.runlog import read_metrics


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def smooth(y: np.ndarray, window: int) -> np.ndarray:
    if len(y) < 2 or window <= 1:
        return y
    window = min(window, len(y))
    kernel = np.ones(window) / window
    head = np.array([y[: i + 1].mean() for i in range(window - 1)])
    return np.concatenate([head, np.convolve(y, kernel, mode="valid")])


def plot_run(run_dir: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """``learning_curve.png``: training episode returns (smoothed) and evaluation returns vs env steps."""
    plt = _plt()
    d = Path(run_dir)
    rows = read_metrics(d)
    ep = [(r["env_steps"], r["episode_return"]) for r in rows if "episode_return" in r]
    ev = [
        (r["env_steps"], r["eval_return_mean"], r.get("eval_return_std", 0.0))
        for r in rows
        if "eval_return_mean" in r
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    if ep:
        x, y = np.array(ep).T
        ax.plot(x, y, ".", color="tab:blue", alpha=0.15, ms=3)
        ax.plot(x, smooth(y, 20), color="tab:blue", label="training episodes (mean of 20)")
    if ev:
        x, m, s = np.array(ev).T
        ax.errorbar(
            x, m, yerr=s, color="tab:red", marker="o", capsize=3, label="evaluation (mean ± std)"
        )
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title or d.name)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    path = Path(out) if out else d / "learning_curve.png"
    save_figure(fig, path)
    plt.close(fig)
    return path
