"""The Doom table: per evaluation block and temperature τ, the virtual score (in the dream), the
actual score (real game), their difference (the model-exploitation gap), the paper's and a
public reproduction's numbers, and each C against the random policy; CMA-ES repeats pooled."""

from __future__ import annotations

from typing import Any

from dynaworld.studies.stats import cell, holm, welch_p
from dynaworld.studies.worldmodels.death_rule import block_of
from dynaworld.studies.worldmodels.figures import c_setting, dream_order, from_zero
from dynaworld.studies.worldmodels.iterations import actual_cell, against_random

PAPER_DOOM = {  # tau: (virtual mean, std, actual mean, std)
    0.10: (2086, 140, 193, 58), 0.50: (2060, 277, 196, 50), 1.00: (1145, 690, 868, 511),
    1.15: (918, 546, 1092, 556), 1.30: (732, 269, 753, 139),
}  # fmt: skip
PAPER_DOOM_RANDOM = (210, 108)
ZACWELLMER_DOOM = {1.00: (849, 499)}  # tau: actual mean, std (TF2 reproduction, deaths sampled)
DEATH = {"sample": " (deaths sampled)"}  # the dream's death rule, when not the paper's p > 0.5


def doom_table(evals: list[dict[str, Any]]) -> list[str]:
    """Per evaluation block (the test block first) and temperature: virtual and actual score, the
    gap, the paper's, and the test against the random policy on the same block's episodes
    (P(C > random), Welch, Holm over the rows of the block)."""
    dream = [e for e in evals if e.get("where") == "dream"]
    its = ", ".join(sorted({str(e.get("iteration", 1)) for e in dream}))
    lines = [  # an iterative run's root holds C_1: say so beside the iterations table
        f"Controllers C_k of iteration k = {its}, per temperature:" if dream else "",
        "",
        "| temperature τ | virtual score (ours) | actual score (ours) | gap | episodes "
        "| virtual (paper) | actual (paper) | actual (zacwellmer) | P(C > random) | Welch p "
        "| Holm p |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for block in sorted({block_of(e) for e in evals}, key=lambda b: b != "test"):
        rows = sorted((e for e in dream if block_of(e) == block), key=dream_order)
        rand = next((e for e in evals if e["variant"] == "random" and block_of(e) == block), None)
        lines += [_doom_row(e, t) for e, t in zip(rows, against_random(rows, rand), strict=True)]
    baselines = {"random": ("random policy", PAPER_DOOM_RANDOM), "noop": ("always no-op", None)}
    for e in (e for e in evals if e["variant"] in baselines):
        name, paper_random = baselines[e["variant"]]
        lines.append(
            f"| {name} | — | {mean_std(e['mean'], e['std'])} | — | {_episodes(e)} | — "
            f"| {mean_std(*paper_random) if paper_random else '—'} | — | | | |"
        )
    return lines + [
        "",
        "Scores: mean ± std over episodes; episodes of the validation block (seeds 1,000,000 + "
        "i, to choose) or the test block (2,000,000,000 + i, final claims only). P(C > random): "
        "the probability that an episode of C outlasts one of the random policy on the same "
        "block (95% bootstrap CI); Welch's two-sided t-test on the episodes, Holm over the "
        "block's temperatures. Always no-op: the probe's real-game episodes (validation seeds).",
        *seeds_table(dream),
    ]


def mean_std(m: float, s: float) -> str:
    return f"{m:.0f} ± {s:.0f}"


def _episodes(e: dict[str, Any]) -> str:  # how many, and '(test)' for the test block's
    return f"{e['episodes']}" + " (test)" * (block_of(e) == "test")


def _doom_row(e: dict[str, Any], test: str) -> str:
    tau = round(e["temperature"], 2)
    p, z = PAPER_DOOM.get(tau), ZACWELLMER_DOOM.get(tau)
    paper = (mean_std(p[0], p[1]), mean_std(p[2], p[3])) if p else ("—", "—")
    return (
        f"| {e['temperature']:g}{DEATH.get(e.get('dream_done', ''), '')}"
        f"{c_setting(e, ', ')} | "
        f"{mean_std(e['virtual_mean'], e['virtual_std'])} | "
        f"{actual_cell(e)} | {e['exploitation_gap']:+.0f} | {_episodes(e)} | "
        f"{paper[0]} | {paper[1]} | {mean_std(*z) if z else '—'} | {test} |"
    )


def seeds_table(dream: list[dict[str, Any]]) -> list[str]:
    """Settings with CMA-ES repeats (es.seed), a CMA-ES run the unit: per setting, the per-seed
    actual means and their mean with a 95% bootstrap CI over seeds; for each pair of settings
    that differ only in their number of dream models, Welch's test on the per-seed means, Holm
    over the pairs."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for e in dream:
        key = (e.get("iteration", 1), e["temperature"], e.get("dream_done", ""), from_zero(e))
        groups.setdefault((*key, block_of(e), e.get("dream_models", 1)), []).append(e)
    groups = {key: es for key, es in groups.items() if len(es) > 1}
    if not groups:
        return []
    label = {
        key: f"τ = {key[1]:g}{DEATH.get(key[2], '')}"
        + c_setting(es[0] | {"es_seed": 0}, ", ")
        + f", iteration {key[0]}"
        + ", test block" * (key[4] == "test")
        for key, es in groups.items()
    }
    lines = ["", "| over CMA-ES repeats | actual, per es.seed | over seeds: mean [95% CI] |"]
    lines.append("|---|---|---|")
    for key, es in groups.items():
        es.sort(key=lambda e: e.get("es_seed", 0))
        per_seed = "; ".join(f"{e.get('es_seed', 0)}: {e['mean']:.0f}" for e in es)
        lines.append(f"| {label[key]} | {per_seed} | {cell([e['mean'] for e in es], digits=0)} |")
    pairs = [(a, b) for a in groups for b in groups if a[:5] == b[:5] and a[5] > b[5]]
    if not pairs:
        return lines
    means = {key: [e["mean"] for e in es] for key, es in groups.items()}
    ps = [welch_p(means[a], means[b]) for a, b in pairs]
    lines += [
        "",
        "| comparison (per-seed means) | difference | Welch p | Holm p |",
        "|---|---|---|---|",
    ]
    for (a, b), p, h in zip(pairs, ps, holm(ps), strict=True):
        diff = sum(means[a]) / len(means[a]) - sum(means[b]) / len(means[b])
        lines.append(f"| {label[a]} vs {label[b]} | {diff:+.0f} | {p:.2g} | {h:.2g} |")
    return lines
