"""World Models figures: V's reconstructions (PNG), dream rollouts decoded by V (GIF), CMA-ES curves."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from dynaworld.agents.controller import Controller
from dynaworld.models.dream import DreamEnv
from dynaworld.models.vae import ConvVAE


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8."""
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def recon_grid(
    v: ConvVAE, frames: np.ndarray, path: str | Path, n: int = 8, scale: int = 3
) -> Path:
    """Top row: n frames spread over a rollout; bottom row: V's reconstructions (from mu)."""
    v = v.cpu().eval()
    idx = np.linspace(0, len(frames) - 1, n).astype(int)
    x = torch.from_numpy(frames[idx])
    recon = _to_uint8(v.decode(v.encode(x)[0]))
    grid = np.concatenate([np.concatenate(list(frames[idx]), 1), np.concatenate(list(recon), 1)], 0)
    img = Image.fromarray(grid).resize(
        (grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST
    )
    img.save(path)
    return Path(path)


def save_gif(frames: list[np.ndarray], path: str | Path, fps: int = 20, scale: int = 3) -> Path:
    imgs = [
        Image.fromarray(f).resize(
            (f.shape[1] * scale, f.shape[0] * scale), Image.Resampling.NEAREST
        )
        for f in frames
    ]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=int(1000 / fps), loop=0)
    return Path(path)


def beside(left: list[np.ndarray], right: list[np.ndarray], gap: int = 2) -> list[np.ndarray]:
    """Two frame sequences side by side (the shorter one holds its last frame), white gap."""
    n = max(len(left), len(right))
    sep = np.full((left[0].shape[0], gap, 3), 255, np.uint8)
    return [
        np.concatenate([left[min(i, len(left) - 1)], sep, right[min(i, len(right) - 1)]], 1)
        for i in range(n)
    ]


@torch.no_grad()
def dream_frames(
    v: ConvVAE,
    env: DreamEnv,
    params: np.ndarray | None,
    controller: Controller,
    steps: int = 300,
) -> list[np.ndarray]:
    """One dream rollout (C acting, or random actions without params), each z decoded by V."""
    dream = env.rollouts(1, autoreset=False, max_steps=steps)
    dream.restart()
    frames = []
    while dream.running:
        frames.append(_to_uint8(v.decode(dream.obs.cpu()))[0])
        if params is None:
            a = torch.as_tensor(env.single_action_space.sample())[None]
        else:
            p = torch.as_tensor(params[None], dtype=torch.float32, device=env.device)
            a = controller.act(p, env.observation(dream)[None])[0]
        dream.step(a.to(env.device))
    return frames


def dream_gif(
    v: ConvVAE,
    env: DreamEnv,
    params: np.ndarray | None,
    controller: Controller,
    path: str | Path,
    steps: int = 300,
    real: list[np.ndarray] | None = None,
    scale: int = 3,
    every: int = 1,
) -> Path:
    """The dream rollout as a GIF; with ``real`` frames, the real episode on the left.
    ``every``: keep every n-th step (the GIF still plays at the game's 20 steps per second)."""
    frames = dream_frames(v, env, params, controller, steps)
    frames = beside(real, frames) if real else frames
    return save_gif(frames[::every], path, fps=max(1, 20 // every), scale=scale)


def es_curve(folders: list[Path], path: str | Path, labels: list[str] | None = None) -> Path:
    """CMA-ES progress: mean and best fitness per generation (+ periodic evaluations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, folder in enumerate(folders):
        with open(folder / "log.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        g = [int(r["generation"]) for r in rows]
        label = labels[i] if labels else folder.name
        line = ax.plot(
            g, [float(r["fitness_mean"]) for r in rows], label=f"{label} (population mean)"
        )[0]
        ax.plot(
            g,
            [float(r["fitness_best"]) for r in rows],
            ls=":",
            color=line.get_color(),
            label=f"{label} (best candidate)",
        )
        ev = [(int(r["generation"]), float(r["eval_mean"])) for r in rows if r["eval_mean"]]
        if ev:
            ax.plot(
                *zip(*ev, strict=True), "o", color=line.get_color(), label=f"{label} (eval of mean)"
            )
    ax.set_xlabel("generation")
    ax.set_ylabel("return")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def temperature_chart(
    evals: list[dict[str, Any]],
    path: str | Path,
    paper: Mapping[float, tuple[float, float, float, float]] | None = None,
) -> Path:
    """Virtual (dream) vs actual (real game) score per temperature, mean ± std bars; the random
    policy as a dashed line; the paper's actual scores as markers when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dream = sorted((e for e in evals if e.get("where") == "dream"), key=lambda e: e["temperature"])
    x = np.arange(len(dream))
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for dx, key, label in ((-0.2, "virtual_", "virtual (in the dream)"), (0.2, "", "actual")):
        ax.bar(
            x + dx,
            [e[f"{key}mean"] for e in dream],
            0.4,
            yerr=[e[f"{key}std"] for e in dream],
            capsize=3,
            label=f"{label}, ours",
        )
    if paper:
        pts = [(i, paper[round(e["temperature"], 2)][2]) for i, e in enumerate(dream)
               if round(e["temperature"], 2) in paper]  # fmt: skip
        if pts:
            ax.plot(*zip(*[(i + 0.2, y) for i, y in pts], strict=True), "k^", label="actual, paper")
    for e in evals:
        if e.get("variant") == "random":
            ax.axhline(e["mean"], color="gray", ls="--", label="random policy")
    ax.set_xticks(x, [f"τ = {e['temperature']:g}" for e in dream])
    ax.set_ylabel("steps survived")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
