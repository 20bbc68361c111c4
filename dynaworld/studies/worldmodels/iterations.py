"""The iterative procedure's record (Algorithm 1 with K > 1): per iteration k, C_k's virtual and
actual score, the exploitation gap, the test against the random policy, and the constant-action
probe of M_k (dream against game), as a table and a figure (``iterations.png``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dynaworld.config import load_yaml
from dynaworld.files import read_json, save_figure
from dynaworld.studies.stats import cell_text, holm, probability_of_improvement, welch_p
from dynaworld.studies.worldmodels.probe import probe_file
from dynaworld.worldmodels.run import eval_check, iteration_dir, iteration_of

PROBED = ("noop", "right", "left")  # the constant actions of the probe, in table order


def iteration_evals(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Dream-trained C folders by name (e.g. ``C_full_dream_tau1.15_sampled``): the eval.json of
    each iteration that has one, in order, with that iteration's probe of M (when run)."""
    ks = [1] + sorted(k for p in run_dir.glob("iter*") if (k := iteration_of(p)) is not None)
    out: dict[str, list[dict[str, Any]]] = {}
    for k in ks:
        folder = iteration_dir(run_dir, k)
        for path in sorted(folder.glob("C_*/eval.json")):
            e = read_json(path, "controller evaluation")
            if e.get("where") != "dream":
                continue
            e.update(iteration=k, path=str(path))
            e["check"] = eval_check(e, path.parent)
            probe = folder / probe_file(e["temperature"], e.get("dream_done", "threshold"))
            e["probe"] = read_json(probe, "probe file") if probe.exists() else None
            out.setdefault(path.parent.name, []).append(e)
    # C followed over several iterations; else (only the last C evaluated) any C of k > 1. A C
    # trained once at iteration k (``experiment --iteration k``) belongs to report_iter<k>.md.
    followed = {name: es for name, es in out.items() if len(es) > 1}
    return followed or {name: es for name, es in out.items() if es[0]["iteration"] > 1}


def _rollouts(run_dir: Path, k: int) -> str:
    cfg = load_yaml(run_dir / "config.yaml") if (run_dir / "config.yaml").exists() else {}
    if not cfg:
        return "–"
    return f"{cfg['data']['rollouts'] + (k - 1) * cfg['iterate']['rollouts']:,}"


def actual_cell(e: dict[str, Any]) -> str:
    """A controller's real score, mean ± std; marked when C was trained on after this evaluation."""
    return f"{e['mean']:.0f} ± {e['std']:.0f}" + (" (stale)" if e.get("check") == "stale" else "")


def _probe_cell(e: dict[str, Any]) -> str:
    if not e["probe"]:
        return "–"
    rows = {r["policy"]: r for r in e["probe"]["rows"]}
    return ", ".join(
        f"{p} {rows[p]['dream_mean']:.0f}/{rows[p]['real_mean']:.0f}" for p in PROBED if p in rows
    )


def against_random(evals: list[dict[str, Any]], rand: dict[str, Any] | None) -> list[str]:
    """Table cells 'P(C > random) | Welch p | Holm p' per evaluation: each C's real episodes
    against the random policy's, Holm-corrected over ``evals`` ('– | – | –' without a random row)."""
    tests = [
        (probability_of_improvement(e["returns"], rand["returns"]),
         welch_p(e["returns"], rand["returns"]))
        if rand and e.get("returns") and rand.get("returns") else None
        for e in evals
    ]  # fmt: skip
    holm_p = holm([t[1] if t else math.nan for t in tests])
    return [
        f"{cell_text(t[0]).rsplit(' (n=', 1)[0]} | {t[1]:.2g} | {h:.2g}" if t else "– | – | –"
        for t, h in zip(tests, holm_p, strict=True)
    ]


def iterations_table(run_dir: Path, rand: dict[str, Any] | None) -> list[str]:
    """Markdown: one table per dream-trained C over the iterations; Welch's test of each C_k
    against the random policy on the real episodes, Holm-corrected over the table's rows."""
    lines: list[str] = []
    for name, es in iteration_evals(run_dir).items():
        lines += [
            f"### `{name}` over the iterations",
            "",
            "| iteration k | real rollouts in M's data | virtual score | actual score | gap "
            "| P(C > random) | Welch p | Holm p | probe of M_k: dream/game steps |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for e, test in zip(es, against_random(es, rand), strict=True):
            lines.append(
                f"| {e['iteration']} | {_rollouts(run_dir, e['iteration'])} | "
                f"{e['virtual_mean']:.0f} ± {e['virtual_std']:.0f} | "
                f"{actual_cell(e)} | "
                f"{e['exploitation_gap']:+.0f} | {test} | {_probe_cell(e)} |"
            )
        lines.append("")
    return lines


def gap_chart(run_dir: Path, path: Path) -> Path | None:
    """Left: virtual and actual score (mean ± std) per iteration, the gap between them shaded,
    the random policy dashed. Right: the probe, each constant action's dream (solid) and game
    (dashed) survival per iteration. None when the run has no iterations to draw."""
    runs = iteration_evals(run_dir)
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10.0, 3.8))
    probes: dict[str, dict[int, dict[str, Any]]] = {}
    for i, (name, es) in enumerate(runs.items()):
        k = [e["iteration"] for e in es]
        v, a = [e["virtual_mean"] for e in es], [e["mean"] for e in es]
        tag = f" ({name})" if len(runs) > 1 else ""
        ax.errorbar(k, v, [e["virtual_std"] for e in es], marker="o", capsize=3,
                    color=f"C{2 * i}", label=f"virtual (in M's dream){tag}")  # fmt: skip
        ax.errorbar(k, a, [e["std"] for e in es], marker="s", capsize=3,
                    color=f"C{2 * i + 1}", label=f"actual (real game, {es[0]['episodes']} ep.){tag}")  # fmt: skip
        ax.fill_between(k, a, v, color=f"C{2 * i}", alpha=0.12)
        for e in (e for e in es if e["probe"]):  # one probe per M_k, τ and death rule
            at = probes.setdefault(f"τ = {e['temperature']:g}, {e.get('dream_done')}", {})
            at[e["iteration"]] = {r["policy"]: r for r in e["probe"]["rows"]}
    for n, (setting, by_k) in enumerate(probes.items()):  # however many C chains share them
        tag = f" ({setting})" if len(probes) > 1 else ""
        for j, p in enumerate(PROBED):
            pts = [(kk, by_k[kk][p]) for kk in sorted(by_k) if p in by_k[kk]]
            if pts:
                ks, c = [kk for kk, _ in pts], f"C{j + 3 * n}"
                bx.plot(ks, [r["dream_mean"] for _, r in pts], marker="o", color=c,
                        label=f"always {p}: dream{tag}")  # fmt: skip
                bx.plot(ks, [r["real_mean"] for _, r in pts], ls="--", marker="x",
                        color=c, label=f"always {p}: game{tag}")  # fmt: skip
    rand = run_dir / "random_eval.json"
    if rand.exists():
        ax.axhline(read_json(rand, "random evaluation")["mean"], color="gray", ls="--",
                   label="random policy (real game)")  # fmt: skip
    ax.set(xlabel="iteration k", ylabel="steps survived")
    ax.set_title("C_k: the exploitation gap (shaded) over the iterations", fontsize=9)
    bx.set(xlabel="iteration k", ylabel="steps survived")
    bx.set_title("probe of M_k: constant actions in the dream vs the game", fontsize=9)
    for x in (ax, bx):
        x.xaxis.set_major_locator(MaxNLocator(integer=True))
        x.grid(alpha=0.3)
        if x.get_legend_handles_labels()[0]:
            x.legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
