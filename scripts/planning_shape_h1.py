"""H1 of the pre-registered planning-shape study (docs/results/planning_shape/preregistration.md):
is one-step Dyna (100x1, perfect model) equivalent to DQN with extra updates over the five games?

    python scripts/planning_shape_h1.py docs/results/planning_shape_200k

Per game g: d_g = (mean of dyna_100x1 - mean of dqn_extra) / pooled seed-level SD of the two
arms, each seed's final return (results.csv's eval_return_mean, the final evaluation); d-bar =
the mean of d_g over the games. Its 90% CI: stratified bootstrap (each arm's seeds resampled
within each game, 2,000 resamples, generator seed 0). Equivalent (TOST at alpha 0.05, margin 0.5)
when the CI lies inside (-0.5, 0.5); 'not supported' when it lies above 0; else inconclusive.
Writes SWEEP/h1.json and prints one line.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from dynaworld.files import atomic_write

MARGIN, LEVEL, REPS = 0.5, 0.90, 2000
A, B = "dyna_100x1", "dqn_extra"


def standardised(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / pooled SD (ddof 1)."""
    pooled = np.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))  # fmt: skip
    return float((a.mean() - b.mean()) / pooled)


def h1(rows: list[dict[str, str]], suite: str = "minatar") -> dict[str, object]:
    """The statistic, its CI and the verdict from results.csv rows."""
    games = sorted({r["game"] for r in rows if r["suite"] == suite})
    arms = {
        (g, m): np.array([float(r["eval_return_mean"]) for r in rows
                          if r["suite"] == suite and r["game"] == g and r["method"] == m])
        for g in games for m in (A, B)
    }  # fmt: skip
    point = float(np.mean([standardised(arms[g, A], arms[g, B]) for g in games]))
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(REPS):
        draw = {k: rng.choice(v, size=len(v), replace=True) for k, v in arms.items()}
        ds = [standardised(draw[g, A], draw[g, B]) for g in games]
        boot.append(np.mean(ds) if np.all(np.isfinite(ds)) else np.nan)
    lo, hi = np.nanquantile(boot, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    verdict = ("supported (equivalent)" if -MARGIN < lo and hi < MARGIN
               else "not supported (one-step Dyna better)" if lo > 0 else "inconclusive")  # fmt: skip
    return {"games": games, "seeds": {f"{g}/{m}": len(v) for (g, m), v in arms.items()},
            "d_bar": point, "ci90": [float(lo), float(hi)], "margin": MARGIN, "verdict": verdict}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", type=Path)
    sweep = ap.parse_args().sweep
    with open(sweep / "results.csv") as f:
        out = h1(list(csv.DictReader(f)))
    with atomic_write(sweep / "h1.json", "w") as f:
        json.dump(out, f, indent=1)
    print(f"H1: d-bar {out['d_bar']:+.3f}, 90% CI [{out['ci90'][0]:+.3f}, {out['ci90'][1]:+.3f}], margin ±{MARGIN}: {out['verdict']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
