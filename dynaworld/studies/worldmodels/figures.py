"""World Models figures: V's reconstructions (PNG), dream rollouts decoded by V (GIF), CMA-ES curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from dynaworld.agents.cmaes import read_log
from dynaworld.agents.controller import Controller
from dynaworld.config import load_yaml
from dynaworld.files import save_figure
from dynaworld.models.dream import DreamEnv
from dynaworld.models.vae import ConvVAE, to_uint8
from dynaworld.studies.worldmodels import anchors
from dynaworld.studies.worldmodels.death_rule import block_of, one_block
from dynaworld.watch import shared_palette
from dynaworld.worldmodels.config import rollouts_at

GIF_COLOURS = 40  # a shared palette this small keeps game frames legible at 1/3 the bytes


def save_gif(
    frames: list[np.ndarray],
    path: str | Path,
    fps: int = 20,
    scale: int = 3,
    captions: list[str] | None = None,
) -> Path:
    """An animated GIF of uint8 frames: one small palette made from a sample of the frames
    and used for all of them, so the encoder stores only each frame's changes. ``captions``: text
    over equal-width panels of each frame (e.g. ["real", "dream"])."""
    width, height = frames[0].shape[1] * scale, frames[0].shape[0] * scale
    top = 14 if captions else 0
    palette = shared_palette(frames, GIF_COLOURS, Image.Quantize.MEDIANCUT)
    imgs = []
    for f in frames:
        img = Image.fromarray(f).resize((width, height), Image.Resampling.NEAREST)
        if captions:
            framed = Image.new("RGB", (width, height + top), "white")
            framed.paste(img, (0, top))
            draw = ImageDraw.Draw(framed)
            for i, text in enumerate(captions):
                draw.text((i * width // len(captions) + 4, 1), text, fill="black")
            img = framed
        imgs.append(img.quantize(palette=palette, dither=Image.Dither.NONE))
    imgs[0].save(
        path, save_all=True, append_images=imgs[1:], duration=int(1000 / fps), loop=0,
        optimize=True,
    )  # fmt: skip
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
        frames.append(to_uint8(v.decode(dream.obs.cpu()))[0])
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
    captions = ["real game", "dream (M, decoded by V)"] if real else ["dream (M, decoded by V)"]
    frames = beside(real, frames) if real else frames
    return save_gif(frames[::every], path, max(1, 20 // every), scale, captions)


def es_curve(folders: list[Path], path: str | Path, labels: list[str] | None = None) -> Path:
    """CMA-ES progress per run (``labels``: e.g. "τ = 1.15" or the C variant): the population's
    mean fitness (solid), its best candidate (dotted) and the periodic evaluations of the mean
    (dots), against integer generations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    handles = []
    for i, folder in enumerate(folders):
        rows = read_log(folder)
        g = [int(r["generation"]) for r in rows]
        label = labels[i] if labels else folder.name
        line = ax.plot(g, [float(r["fitness_mean"]) for r in rows], label=label)[0]
        handles.append(line)
        best = [float(r["fitness_best"]) for r in rows]
        ax.plot(g, best, ls=":", color=line.get_color())
        ev = [(int(r["generation"]), float(r["eval_mean"])) for r in rows if r["eval_mean"]]
        if ev:
            ax.plot(*zip(*ev, strict=True), "o", ms=4, color=line.get_color())
    styles = [
        Line2D([], [], color="k", label="population mean"),
        Line2D([], [], color="k", ls=":", label="best candidate"),
        Line2D([], [], color="k", marker="o", ls="", label="evaluation of the mean"),
    ]
    first = ax.legend(
        handles=handles, fontsize=7, title="run", title_fontsize=7,
        loc="upper left", bbox_to_anchor=(1.01, 1.0),
    )  # fmt: skip
    ax.add_artist(first)
    ax.legend(handles=styles, fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0.0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="generation", ylabel="return (the fitness CMA-ES maximises)")
    ax.set_title("CMA-ES: fitness per generation", fontsize=10)
    ax.grid(alpha=0.3)
    save_figure(fig, path, dpi=120, bbox_inches="tight")  # "tight": the legends outside the axes
    plt.close(fig)
    return Path(path)


def c_setting(e: dict[str, Any], sep: str) -> str:
    """What tells two C at one τ apart, each part after ``sep``: trained from zero weights at an
    iteration k > 1, the number of dream models its fitness took the lowest of, and its CMA-ES
    repeat (es.seed), from its eval.json ``e``."""
    n, seed = e.get("dream_models", 1), e.get("es_seed")
    parts = [
        "from zero weights" * from_zero(e),
        f"lowest of {n} models" * (n > 1),
        f"es.seed {seed}" * bool(seed),
    ]
    return "".join(sep + part for part in parts if part)


def dream_order(e: dict[str, Any]) -> tuple[float, bool, int, int]:
    """Dream-trained C in tables and charts: by τ, warm-started before from zero weights, then
    number of dream models, then es.seed."""
    return e["temperature"], from_zero(e), e.get("dream_models", 1), e.get("es_seed", 0)


def from_zero(e: dict[str, Any]) -> bool:
    """Whether eval.json ``e``'s C was trained from zero weights at an iteration k > 1
    (es.start=zero). A record without "start" (older than that setting) counts as warm-started,
    though CMA-ES repeats trained before start.json existed may have started from zero."""
    return e.get("start") == "zero" and e.get("iteration", 1) > 1


def figure_path(report: Path, name: str) -> Path:
    """A report's figure ``name``.png beside it; report_<x>.md's figures are <name>_<x>.png, so
    two reports of one run keep their own."""
    suffix = report.stem.removeprefix("report").lstrip("_")
    return report.with_name(f"{name}_{suffix}.png" if suffix else f"{name}.png")


def temperature_chart(
    evals: list[dict[str, Any]],
    path: str | Path,
    paper: Mapping[float, tuple[float, float, float, float]] | None = None,
) -> Path:
    """Virtual (dream) vs actual (real game) score per temperature, mean ± std bars (one block:
    the test block when every C has one); the random policy on that block as a dashed line; the
    paper's actual scores as markers when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dream = sorted(one_block([e for e in evals if e.get("where") == "dream"]), key=dream_order)
    x = np.arange(len(dream))  # wider with more bars, so their two-line names do not overlap
    fig, ax = plt.subplots(figsize=(max(6.4, 1.3 * len(dream)), 3.8))
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
    block = block_of(dream[0]) if dream else "validation"
    for e in evals:
        if e.get("variant") == "random" and block_of(e) == block:
            ax.axhline(e["mean"], color="gray", ls="--", label="random policy")
    rules = {e.get("dream_done") for e in dream} > {"sample"}  # name each bar's rule when mixed
    names = {"sample": "deaths sampled", "threshold": "death logit > 0"}
    ax.set_xticks(
        x,
        [f"τ = {e['temperature']:g}" + c_setting(e, "\n")
         + ("\n" + names.get(e.get("dream_done", ""), "")) * rules for e in dream],
        fontsize=8,
    )  # fmt: skip
    ax.set_ylabel(f"steps survived ({block} episodes)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return Path(path)


def curve_vs_reference(runs: Mapping[str, tuple[Path, int]], path: str | Path) -> Path:
    """Our CMA-ES runs (``runs``: label -> (C folder with ``log.csv``, cores it ran on)) beside
    the reference's and zacwellmer's logged points. Left: against the generation; right: against
    real-env steps (at most popsize x rollouts x 1,000 per generation, ``es.rollouts_from``
    counted), so schedules of different cost compare at equal environment cost. Population mean
    (line), evaluations of the mean (open circles), each run's core-hours in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2 + 0.22 * len(runs)), sharey=True)
    ref_steps = 64 * 16 * 1_000 / 1e6
    for i, (label, (folder, cores)) in enumerate(runs.items()):
        rows, es = read_log(folder), load_yaml(folder / "config.yaml")["es"]
        g = np.array([int(r["generation"]) for r in rows])
        later = es.get("rollouts_from", [])
        per_gen = [rollouts_at(es["rollouts"], later, k) for k in range(1, g.max(initial=0) + 1)]
        steps = np.cumsum([0, *per_gen]) * es["popsize"] * 1_000 / 1e6  # M steps after gen. k
        hours = float(rows[-1]["wall_time_s"]) * cores / 3600 if rows else 0.0
        shape = f"{es['popsize']} × {es['rollouts']}" + "".join(f"→{r}" for _, r in later)
        name = f"{label} ({shape}, {len(g)} gen., {hours:.1f} core-h)"
        ev = [(int(r["generation"]), float(r["eval_mean"])) for r in rows if r["eval_mean"]]
        for ax, x in zip(axes, (np.arange(len(steps)), steps), strict=True):
            ax.plot(x[g], [float(r["fitness_mean"]) for r in rows], color=f"C{i}", lw=1.2,
                    label=f"{name}: population mean")  # fmt: skip
            if ev:
                eg, em = zip(*ev, strict=True)
                ax.plot(x[list(eg)], em, "o", color=f"C{i}", mfc="white", ms=6,
                        label=f"{label}: mean of C on {es['eval_rollouts']} held-out tracks")  # fmt: skip
    for ax, x in zip(axes, (1.0, ref_steps), strict=True):
        ref = sorted(anchors.REFERENCE_POP_MEAN.items())
        ax.plot([k * x for k, _ in ref], [v for _, v in ref], color="0.5", marker=".", ms=4,
                label="reference: population mean (64 × 16)")  # fmt: skip
        best = sorted(anchors.REFERENCE_EVAL.items())
        ax.plot([k * x for k, _ in best], [v for _, v in best], "s", color="0.3", ms=5,
                label="reference: mean of C on 1,024 rollouts")  # fmt: skip
        ax.axhline(anchors.SOLVED, color="k", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.grid(alpha=0.3, which="both")
    axes[0].plot(*zip(*sorted(anchors.ZACWELLMER_EVAL.items()), strict=True), "^", color="C9",
                 ms=6, label="zacwellmer/WorldModels: evaluation")  # fmt: skip
    axes[0].text(1.05, anchors.SOLVED + 12, "solved (900)", fontsize=7)
    axes[0].set(xlabel="CMA-ES generation (log scale)", ylabel="return per episode")
    axes[0].set_xlim(0.9, 2_200)
    axes[1].set(xlabel="real-env steps, millions (log scale; at most popsize × rollouts × 1,000 "
                "per generation)")  # fmt: skip
    axes[1].xaxis.label.set_fontsize(8)
    fig.suptitle("CarRacing-v3, full World Model: CMA-ES against the published runs", fontsize=10)
    fig.tight_layout()
    entries = 2 * len(runs) + 3  # the legend below both panels, in two columns
    fig.subplots_adjust(bottom=0.15 + 0.034 * ((entries + 1) // 2))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7)
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return Path(path)
