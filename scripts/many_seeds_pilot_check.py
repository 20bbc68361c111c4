"""Does a batched run reproduce the planning-shape pilot's single runs? (issue 43)

    python scripts/many_seeds_pilot_check.py docs/results/planning_shape_pilot OUT [--steps 20000]

Trains the pilot's Breakout 'extra updates' setting (its seed-0 run's own config.yaml) for seeds
0, 1, 2 as one batched program to ``--steps``, then compares each seed's training episodes (step,
return, length) with the pilot's single run of that seed over the same steps, where that run
exists. Prints one JSON object: per seed the episodes compared, how many are identical, and the
first step where they differ (None: none).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from dynaworld.config import load_config
from dynaworld.runlog import read_metrics
from dynaworld.seeds import train_seeds


def episodes(d: Path, steps: int) -> list[tuple[int, float, int]]:
    return [(int(r["env_steps"]), r["episode_return"], int(r["episode_length"]))
            for r in read_metrics(d) if "episode_return" in r and r["env_steps"] <= steps]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pilot", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", type=int, default=20_000)
    a = ap.parse_args()
    runs = a.pilot / "runs/minatar/Breakout/dqn_extra"
    base = runs / "seed0" / "config.yaml"
    cfgs = [load_config(base, [f"seed={s}", f"total_steps={a.steps}", "progress=false",
                               "torch_threads=1"]) for s in (0, 1, 2)]  # fmt: skip
    shutil.rmtree(a.out, ignore_errors=True)
    dirs = [a.out / f"seed{s}" for s in (0, 1, 2)]
    t = time.perf_counter()
    train_seeds(cfgs, dirs, logs=[a.out / f"seed{s}.log" for s in (0, 1, 2)], progress=False)
    out: dict[str, object] = {"steps": a.steps, "wall_s": round(time.perf_counter() - t, 1)}
    for s, d in zip((0, 1, 2), dirs, strict=True):
        single = runs / f"seed{s}"
        if not (single / "metrics.csv").exists():
            out[f"seed{s}"] = "no single run of the pilot yet"
            continue
        mine, theirs = episodes(d, a.steps), episodes(single, a.steps)
        differ = [x[0] for x, y in zip(mine, theirs, strict=False) if x != y]
        out[f"seed{s}"] = {"episodes": len(theirs), "identical": sum(x == y for x, y in zip(mine, theirs, strict=False)),
                           "same_count": len(mine) == len(theirs), "first_difference_step": differ[0] if differ else None}  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
