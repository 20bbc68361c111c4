"""The dream's two death rules side by side: per temperature τ, the exploitation gap (virtual −
actual score) of each CMA-ES run with deaths sampled from M's p(death) and with the reference's
rule (the episode ends when the death logit is > 0), beside the paper's gaps."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.files import save_figure

RULES = {"threshold": ("death logit > 0 (the reference's)", "s"), "sample": ("deaths sampled", "o")}


def block_of(e: dict[str, Any]) -> str:
    """An evaluation's block: 'validation' (to choose; older records have no key) or 'test'."""
    return str(e.get("block", "validation"))


def one_block(dream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluations of one block: the test block when every C has one, else validation."""
    folders = {Path(e["path"]).parent for e in dream}
    test = [e for e in dream if block_of(e) == "test"]
    if test and {Path(e["path"]).parent for e in test} == folders:
        return test
    return [e for e in dream if block_of(e) == "validation"]


def both_rules(evals: list[dict[str, Any]]) -> bool:
    return {e.get("dream_done") for e in evals if e.get("where") == "dream"} >= set(RULES)


def death_rule_chart(
    evals: list[dict[str, Any]],
    path: str | Path,
    paper: Mapping[float, tuple[float, float, float, float]],
) -> Path:
    """Each run's gap (a marker) and the mean per τ (a line), one colour per rule; the paper's
    gap (virtual − actual means) as black triangles; the block scored in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dream = one_block([e for e in evals if e.get("where") == "dream"])
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for i, (rule, (label, marker)) in enumerate(RULES.items()):
        runs = [e for e in dream if e.get("dream_done") == rule]
        taus = sorted({round(e["temperature"], 2) for e in runs})
        if not runs:
            continue
        shift = 0.012 * (2 * i - 1)  # the two rules' markers side by side at one τ
        x = [round(e["temperature"], 2) + shift for e in runs]
        ax.plot(x, [e["exploitation_gap"] for e in runs], marker, color=f"C{i}", alpha=0.6)
        means = [np.mean([e["exploitation_gap"] for e in runs if round(e["temperature"], 2) == t])
                 for t in taus]  # fmt: skip
        n = len(runs) / len(taus)
        ax.plot(taus, means, "-", color=f"C{i}", label=f"{label}; runs a τ: {n:.2g}")
    taus = sorted(paper)
    ax.plot(taus, [paper[t][0] - paper[t][2] for t in taus], "k^--", lw=0.8, label="paper")
    ax.axhline(0, color="gray", lw=0.8)
    block = block_of(dream[0]) if dream else "validation"
    ax.set_title(f"The exploitation gap per temperature ({block} episodes)", fontsize=10)
    ax.set_xlabel("temperature τ")
    ax.set_ylabel("virtual − actual (steps survived)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return Path(path)
