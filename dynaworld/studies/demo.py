"""``dynaworld demo``: the lecture's first chart in miniature, on one MinAtar game, in minutes.

DQN vs DQN with extra updates vs Dyna-DQN 100×1 vs Rollout-Dyna-DQN 10×10 (perfect model),
2 seeds, run in parallel; prints the table, writes the bar chart and learning curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dynaworld.studies.experiment import Experiment
from dynaworld.studies.report import report
from dynaworld.studies.sweep import run_sweep

MINATAR_DQN: dict[str, Any] = {
    "eval_every": 10_000,
    "eval_episodes": 10,
    "final_eval_episodes": 30,
    "checkpoint_every": 10_000,
    "log_every": 2_000,
    "agent": {
        "network": "minatar",
        "lr": 0.00025,
        "adam_eps": 0.01,
        "batch_size": 32,
        "target_update_period": 250,
        "eps_end": 0.05,
        "eval_eps": 0.0,
    },
    "replay": {"capacity": 100_000, "learning_starts": 1_000, "updates_per_step": 0.25},
    "planning": {"period": 4, "update_rule": "imagined_buffer"},
}

METHODS: dict[str, dict[str, Any]] = {
    "dqn": {"label": "DQN", "family": "DQN 100k"},
    "dqn_extra": {
        "label": "DQN extra updates",
        "family": "DQN extra updates",
        "planning.model": "replay",
        "planning.shape": "100x1",
    },
    "dyna_100x1": {
        "label": "Dyna-DQN 100×1",
        "family": "Dyna-DQN",
        "planning.model": "perfect",
        "planning.shape": "100x1",
    },
    "rollout_10x10": {
        "label": "Rollout-Dyna-DQN 10×10",
        "family": "Rollout-Dyna-DQN",
        "planning.model": "perfect",
        "planning.shape": "10x10",
    },
}


def demo_experiment(game: str, steps: int, seeds: int) -> Experiment:
    """The demo as an experiment; its ``data`` is what the sweep folder's experiment.yaml records."""
    base = {
        **MINATAR_DQN,
        "total_steps": steps,
        "agent": {**MINATAR_DQN["agent"], "eps_decay_steps": steps // 2},
    }
    suites = {"minatar": {"games": [game], "overrides": base}}
    data = {"name": "demo", "seeds": seeds, "suites": suites, "methods": METHODS}
    return Experiment("demo", seeds, suites, METHODS, data=data)


def demo(
    out: str | Path = "runs/demo",
    game: str = "MinAtar/Breakout-v1",
    steps: int = 30_000,
    seeds: int = 2,
    workers: int = 2,
) -> Path:
    exp = demo_experiment(game, steps, seeds)
    out = Path(out)
    run_sweep(exp, out, workers=workers)
    path = report(out)
    print()
    print(path.read_text().split("## Charts")[0].strip())
    print()
    print(f"dynaworld demo: report {path}")
    for png in sorted((out / "charts").glob("*.png")):
        print(f"dynaworld demo: chart  {png}")
    ckpts = [p for p in out.glob("runs/**/checkpoints/**/*") if p.is_file()]
    if ckpts:
        mib = sum(p.stat().st_size for p in ckpts) / 2**20
        print(f"dynaworld demo: {mib:,.0f} MiB of checkpoints (replay buffers included) under "
              f"{out}/runs/*/*/*/*/checkpoints: they let the runs resume; delete them when done")  # fmt: skip
    return path
