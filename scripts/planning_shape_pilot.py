"""Apply the planning-shape pilot's stated rules (docs/results/planning_shape_pilot.md) to its runs.

    python scripts/planning_shape_pilot.py docs/results/planning_shape_pilot

Rule 1 (budget): at each candidate budget b, the matched-update baseline (method ``dqn_extra``)
beats random in a game when its seeds' mean evaluation return at b exceeds the random policy's
mean and a one-sided Welch test of the seed values against the random policy's episodes gives
p < 0.05; B* is the smallest b where that holds in >= 4 of 5 games.
Rule 2 (seeds): at B*, per game, n per arm for 80% power of a two-sided test at alpha = 0.05 / 8
from delta = mean(10x10) - mean(extra updates) and the pooled seed-level SD (only once 10x10 runs
exist at B*).
Writes SWEEP/pilot.json and prints the Markdown tables; reads only the run folders' metrics.csv.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats as sps

from dynaworld.files import atomic_write
from dynaworld.studies.charts import eval_curve
from dynaworld.studies.random_policy import RANDOM_EPISODES, beats_random_p, random_row

BUDGETS = (100_000, 150_000, 200_000)
ALPHA_POWER, POWER = 0.05 / 8, 0.8


def values(sweep: Path, game: str, method: str, budget: int) -> list[float]:
    """Each finished seed's evaluation return at ``budget`` (seeds that have not reached it are
    left out and counted by the caller)."""
    out = []
    for d in sorted((sweep / "runs" / "minatar" / game / method).glob("seed*")):
        curve = eval_curve(str(d)) or {}
        if float(budget) in curve:
            out.append(float(curve[float(budget)]))
    return out


def seeds_needed(a: list[float], b: list[float]) -> tuple[float, float, int | None]:
    """delta, pooled SD and n per arm (normal approximation + 1) for ``POWER`` at ``ALPHA_POWER``."""
    delta = float(np.mean(a) - np.mean(b))
    sd = math.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)
    if delta == 0 or sd == 0:
        return delta, sd, None
    z = sps.norm.ppf(1 - ALPHA_POWER / 2) + sps.norm.ppf(POWER)
    return delta, sd, math.ceil(2 * z**2 * sd**2 / delta**2) + 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", type=Path)
    a = ap.parse_args()
    games = sorted(p.name for p in (a.sweep / "runs" / "minatar").iterdir())
    result: dict = {"budgets": {}, "random": {}, "seeds": {}}
    print("| budget | " + " | ".join(games) + " | games above random |")
    print("|---|" + "---|" * (len(games) + 1))
    chosen = None
    for b in BUDGETS:
        cells, wins = [], 0
        for g in games:
            run = next((a.sweep / "runs" / "minatar" / g / "dqn_extra").glob("seed*"))
            rnd = random_row(a.sweep, "minatar", g, run)
            result["random"][g] = {
                "mean": float(rnd.mean()),
                "std": float(rnd.std()),
                "n": len(rnd),
            }
            v = values(a.sweep, g, "dqn_extra", b)
            p = beats_random_p(v, rnd) if len(v) >= 2 else math.nan
            win = bool(v) and bool(np.mean(v) > rnd.mean()) and bool(p < 0.05)
            wins += win
            result["budgets"].setdefault(str(b), {})[g] = {"values": v, "p": p, "above": win}
            cells.append(
                f"{np.mean(v):.2f} (n={len(v)}, p {p:.2g}){' ✓' if win else ''}" if v else "–"
            )
        print(f"| {b:,} | " + " | ".join(cells) + f" | {wins} |")
        if chosen is None and wins >= 4:
            chosen = b
    print(f"\nRandom policy ({RANDOM_EPISODES} episodes): "
          + ", ".join(f"{g} {r['mean']:.2f} ± {r['std']:.2f}" for g, r in result["random"].items()))  # fmt: skip
    result["chosen_budget"] = chosen
    print(f"\nB* = {chosen if chosen else 'none of the candidates (yet)'}")
    if chosen:
        for g in games:
            x, y = (
                values(a.sweep, g, "rollout_10x10", chosen),
                values(a.sweep, g, "dqn_extra", chosen),
            )
            if len(x) >= 2 and len(y) >= 2:
                delta, sd, n = seeds_needed(x, y)
                result["seeds"][g] = {"delta": delta, "sd": sd, "n_per_arm": n}
                print(f"{g}: delta {delta:.2f}, pooled SD {sd:.2f}, seeds per arm {n}")
    with atomic_write(a.sweep / "pilot.json", "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
