"""Routes to a CarRacing score, per unit of cost: the actual score of C on held-out tracks against
core-hours (all stages: data, V, M, C, evaluation) and against real-environment steps, one line
per route (real-environment CMA-ES, dream only, iterative, dream then real), with the published
runs beside them. A route is a list of ``Point`` s, built from its run's own files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dynaworld.agents.cmaes import read_log
from dynaworld.config import load_yaml
from dynaworld.files import read_json, save_figure
from dynaworld.studies.worldmodels import anchors
from dynaworld.worldmodels.config import rollouts_at

REFERENCE_S_PER_GENERATION = 1_707.0  # our long run's measured 64 × 16 generation, one core
BUDGET_HOURS = 20.0  # the target: >= 900 on the test block within this many core-hours
COST_NOT_PUBLISHED = {"zacwellmer/WorldModels (200 gen.)": 885.5, "ctallec/world-models": 860.0}


@dataclass(frozen=True)
class Point:
    """C at one checkpoint of a route: its score, and what the route had cost until then."""

    core_hours: float
    real_steps: float  # real-environment steps, data collection included (an upper bound where
    # an episode's length is not recorded: 1,000 a CMA-ES episode)
    score: float
    block: str  # the tracks it was scored on: 'test', 'validation' or 'cma-es' (CMA-ES's own)


def real_es_route(folder: Path, before_hours: float, before_steps: float) -> list[Point]:
    """A real-environment CMA-ES run (``folder``: its C folder): each periodic evaluation of
    CMA-ES's mean, then the test block's score at the end (``eval_test.json``), costs counted
    from ``before_*`` (data, V and M) plus the CMA-ES's wall time on its cores."""
    rows, es = read_log(folder), load_yaml(folder / "config.yaml")["es"]
    cores = int(read_json(folder / "cores.json", "cores record")["cores"])
    points, steps = [], before_steps
    for row in rows:
        g = int(row["generation"])
        steps += es["popsize"] * rollouts_at(es["rollouts"], es.get("rollouts_from", []), g) * 1_000
        hours = before_hours + float(row["wall_time_s"]) * cores / 3600
        if row["eval_mean"]:
            points.append(Point(hours, steps, float(row["eval_mean"]), "cma-es"))
    test = folder / "eval_test.json"
    if test.exists() and points:
        t = read_json(test, "evaluation")
        points.append(Point(points[-1].core_hours, points[-1].real_steps, float(t["mean"]), "test"))
    return points


def reference_route(data_hours: float, data_steps: float) -> list[Point]:
    """hardmaru/WorldModelsExperiments' evaluations (1,024 rollouts each), its cost counted at
    our measured rate for its 64 × 16 generation on this machine (its own: 64 cores)."""
    return [
        Point(
            data_hours + g * REFERENCE_S_PER_GENERATION / 3600,
            data_steps + g * 64 * 16 * 1_000,
            score,
            "reference",
        )  # fmt: skip
        for g, score in sorted(anchors.REFERENCE_EVAL.items())
    ]


def routes_figure(routes: Mapping[str, list[Point]], path: str | Path) -> Path:
    """Score against core-hours (left) and real-environment steps (right), both log scale; a
    route's line joins its checkpoints, its test-block score is a filled marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.6), sharey=True)
    for i, (label, points) in enumerate(routes.items()):
        grey = label.startswith("reference")
        style = {"color": "0.5" if grey else f"C{i}", "lw": 1.2}
        for ax, x in zip(axes, ("core_hours", "real_steps"), strict=True):
            scale = 1.0 if x == "core_hours" else 1e-6
            line = [p for p in points if p.block != "test"]
            ax.plot([getattr(p, x) * scale for p in line], [p.score for p in line],
                    marker="o", ms=4, mfc="white", label=label, **style)  # fmt: skip
            for p in points:
                if p.block == "test":
                    ax.plot(getattr(p, x) * scale, p.score, "D", ms=7, color=style["color"],
                            label=f"{label}: 100 test tracks ({p.score:.0f})")  # fmt: skip
    for ax in axes:
        ax.axhline(anchors.SOLVED, color="k", ls="--", lw=0.8)
        for j, (name, score) in enumerate(COST_NOT_PUBLISHED.items()):
            ax.axhline(score, color=f"C{7 + j}", ls=":", lw=1.0,
                       label=f"{name}: {score:g} (cost not published)")  # fmt: skip
        ax.set_xscale("log")
        ax.grid(alpha=0.3, which="both")
    axes[0].axvline(BUDGET_HOURS, color="k", ls="-.", lw=0.8,
                    label=f"issue 41's budget ({BUDGET_HOURS:g} core-hours)")  # fmt: skip
    axes[0].set(xlabel="core-hours on this machine (data, V, M, C; log scale)",
                ylabel="mean return of C on held-out tracks")  # fmt: skip
    axes[1].set(xlabel="real-environment steps, millions (log scale)")
    axes[0].text(axes[0].get_xlim()[0] * 1.1, anchors.SOLVED + 10, "solved (900)", fontsize=7)
    fig.suptitle("CarRacing-v3, full World Model: routes to a score, per unit of cost", fontsize=10)
    fig.tight_layout()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.subplots_adjust(bottom=0.16 + 0.035 * ((len(labels) + 1) // 2))
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7)
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return Path(path)
