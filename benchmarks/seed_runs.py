"""Many seeds as one program, measured on whole runs: N seeds batched (``dynaworld.seeds``)
against the same N seeds as single runs one after another, on MinAtar Breakout.

    python benchmarks/seed_runs.py [--seeds 1 4 10 20] [--steps 1500] [--arms dqn extra rollout_10x10]

Arms (the planning-shape pilot's settings, experiments/planning_shape_pilot.yaml): DQN (one
update every 4 steps), DQN extra updates (about one per step) and Dyna 10×10 with the perfect
model. Each (arm, N, mode) runs in a fresh process, one torch thread: its wall time gives the
seed-steps/s, its peak resident memory the memory per seed (batched: peak / N; sequential: the
peak of one single run's process, what a separate process per seed costs). Runs are short
(``--steps``, learning from step 500); the figures are steady-state only roughly.
Last line: one JSON object with every figure and the ratios batched / sequential.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ["progress=false", "eval_every=0", "eval_episodes=2", "final_eval_episodes=2",
        "checkpoint_every=100000", "log_every=500", "torch_threads=1", "replay.learning_starts=500",
        "replay.updates_per_step=0.25", "agent.target_update_period=250"]  # fmt: skip
ARMS = {
    "dqn": [],
    "extra": ["planning.model=replay", "planning.shape=100x1", "planning.period=4",
              "planning.updates_per_transition=0.03125"],
    "rollout_10x10": ["planning.model=perfect", "planning.shape=10x10", "planning.period=4",
                      "planning.updates_per_transition=0.03125",
                      "planning.update_rule=imagined_buffer"],
}  # fmt: skip


def child(arm: str, n: int, mode: str, steps: int) -> None:
    """One measurement, in this process: prints {"wall_s", "maxrss_mib"}."""
    from dynaworld.config import load_config
    from dynaworld.seeds import train_seeds
    from dynaworld.training import train

    ov = [*BASE, f"total_steps={steps}", *ARMS[arm]]
    cfgs = [load_config(ROOT / "configs/dqn_minatar_breakout.yaml", [*ov, f"seed={s}"]) for s in range(n)]  # fmt: skip
    out = Path(tempfile.mkdtemp(prefix="seed_runs-"))
    try:
        t = time.perf_counter()
        if mode == "batched":
            train_seeds(cfgs, [out / f"s{k}" for k in range(n)], logs=[out / f"{k}.log" for k in range(n)], progress=False)  # fmt: skip
        else:
            with open(out / "log", "w") as log:
                sys.stdout = log
                for k, c in enumerate(cfgs):
                    train(c, out / f"s{k}")
                sys.stdout = sys.__stdout__
        wall = time.perf_counter() - t
    finally:
        shutil.rmtree(out, ignore_errors=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "maxrss_mib": rss}))


def measure(arm: str, n: int, mode: str, steps: int) -> dict[str, float]:
    r = subprocess.run([sys.executable, __file__, "--child", arm, str(n), mode, str(steps)],
                       capture_output=True, text=True, cwd=ROOT, check=True)  # fmt: skip
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 10, 20])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    ap.add_argument(
        "--child", nargs=4, metavar=("ARM", "N", "MODE", "STEPS"), help=argparse.SUPPRESS
    )
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), a.child[2], int(a.child[3]))
        return
    out: dict[str, dict[str, dict[str, float]]] = {}
    print(
        "| arm | N | sequential seed-steps/s | batched | ratio | MiB per seed: separate process | batched |"
    )
    print("|---|---|---|---|---|---|---|")
    for arm in a.arms:
        for n in a.seeds:
            seq, bat = measure(arm, n, "sequential", a.steps), measure(arm, n, "batched", a.steps)
            row = {"sequential_seed_steps_per_s": n * a.steps / seq["wall_s"],
                   "batched_seed_steps_per_s": n * a.steps / bat["wall_s"],
                   "mib_per_seed_separate": seq["maxrss_mib"],
                   "mib_per_seed_batched": bat["maxrss_mib"] / n}  # fmt: skip
            row["ratio"] = row["batched_seed_steps_per_s"] / row["sequential_seed_steps_per_s"]
            row["memory_ratio"] = row["mib_per_seed_batched"] / row["mib_per_seed_separate"]
            out.setdefault(arm, {})[str(n)] = row
            print(f"| {arm} | {n} | {row['sequential_seed_steps_per_s']:.0f} | "
                  f"{row['batched_seed_steps_per_s']:.0f} | {row['ratio']:.2f} | "
                  f"{row['mib_per_seed_separate']:.0f} | {row['mib_per_seed_batched']:.0f} |", flush=True)  # fmt: skip
    print(json.dumps({"steps": a.steps, "threads": 1, "runs": out}))


if __name__ == "__main__":
    main()
