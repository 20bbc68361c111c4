"""Environment parity for Doom TakeCover: what simple policies survive under each env setting.

The paper's numbers come from the ppaquette ``DoomTakeCover-v0`` (an old VizDoom, doom_skill 5);
dynaworld runs VizDoom 1.3's ``VizdoomTakeCover-v1``. Before comparing scores, this measures, for
each setting, how long five policies survive on the same seeded episodes: uniform random per step,
random held 1-10 steps (the reference's data policy), and always no-op / right / left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.envs.worldmodels import DOOM, make_wm_env
from dynaworld.episodes import PerEpisode, play_episodes
from dynaworld.files import write_text
from dynaworld.progress import progress_bar
from dynaworld.runlog import write_json

NOOP, RIGHT, LEFT = 0, 1, 2  # VizdoomTakeCover-v1's Discrete(3) (env.unwrapped.button_map)
POLICIES = ("random", "random_held_1_10", "noop", "right", "left")
REFERENCE = {  # policy: (mean, std, source) of the paper's env
    "random": (210, 108, "paper, random policy (Table 2)"),
    "noop": (424, 269, "zacwellmer/WorldModels: near-zero initial C, ~always no-op"),
}


def _action(policy: str, rng: np.random.Generator, held: list[int]) -> int:
    if policy == "random":
        return int(rng.integers(3))
    if policy == "random_held_1_10":
        if held[1] <= 0:
            held[0], held[1] = int(rng.integers(3)), int(rng.integers(1, 11))
        held[1] -= 1
        return held[0]
    return {"noop": NOOP, "right": RIGHT, "left": LEFT}[policy]


def survival(
    doom_skill: int | None, policy: str, episodes: int, seed: int = 1_000_000
) -> np.ndarray:
    """Steps survived (the score: +1 per step) on ``episodes`` seeded episodes."""
    env = make_wm_env(DOOM, doom_skill=doom_skill)
    actor = PerEpisode(lambda s: _actor(policy, np.random.default_rng(s)))
    out = play_episodes([env], actor, [seed + i for i in range(episodes)])
    env.close()
    return np.asarray(out, float)


def _actor(policy: str, rng: np.random.Generator) -> Any:
    held = [0, 0]
    return lambda obs: _action(policy, rng, held)


def parity(
    out: str | Path, skills: list[int | None], episodes: int = 100, progress: bool = True
) -> dict[str, Any]:
    """The table for every setting in ``skills`` (None: take_cover.cfg's own); writes
    ``out.json`` (every episode's score) and ``out.md``."""
    rows: list[dict[str, Any]] = []
    bar = progress_bar(total=len(skills) * len(POLICIES), desc="parity", disable=not progress)
    for skill in skills:
        for policy in POLICIES:
            scores = survival(skill, policy, episodes)
            rows.append({
                "doom_skill": skill, "policy": policy, "episodes": episodes,
                "mean": float(scores.mean()), "std": float(scores.std()), "scores": scores.tolist(),
            })  # fmt: skip
            bar.update()
    bar.close()
    out = Path(out)
    result = {"env_id": DOOM, "seeds": "1,000,000 + episode", "rows": rows, "reference": REFERENCE}
    write_json(out.with_suffix(".json"), result)
    write_text(out.with_suffix(".md"), table(rows))
    return result


def table(rows: list[dict[str, Any]]) -> str:
    skills = list(dict.fromkeys(r["doom_skill"] for r in rows))
    name = {None: "take_cover.cfg (4)"}
    head = ["policy", *(f"doom_skill {name.get(s, s)}" for s in skills), "paper's env"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for policy in POLICIES:
        cells = [policy]
        for s in skills:
            r = next(x for x in rows if x["doom_skill"] == s and x["policy"] == policy)
            cells.append(f"{r['mean']:.0f} ± {r['std']:.0f}")
        ref = REFERENCE.get(policy)
        cells.append(f"{ref[0]} ± {ref[1]} ({ref[2]})" if ref else "–")
        lines.append("| " + " | ".join(cells) + " |")
    n = rows[0]["episodes"] if rows else 0
    return "\n".join(lines) + f"\n\nMean ± std of the score (steps survived) over {n} episodes.\n"
