"""The random policy's row of a report: the reference every method must beat.

For each (suite, game) of a sweep, ``RANDOM_EPISODES`` episodes of the uniformly random policy on
the env a run of that game was trained and evaluated on (its config.yaml's ``env``), with the
same evaluation protocol (``evaluate``: raw score, no life-loss terminals), reset with seeds from
a block no run's evaluation uses. Kept in ``SWEEP/random/<suite>_<game>.json`` and made again
only when the env settings change. A method *beats random* in a game when its runs' final returns
(the unit: a run) exceed the random policy's episodes by a one-sided Welch test.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from dynaworld.config import EnvConfig, load_config, to_dict
from dynaworld.envs import make_env
from dynaworld.evaluate import evaluate
from dynaworld.files import check_target, read_json
from dynaworld.runlog import write_json
from dynaworld.studies.stats import holm

Groups = dict[tuple[str, str], dict[str, list[dict[str, Any]]]]
RANDOM_EPISODES = 100
RANDOM_SEED = 4_000_000_000  # episode i: seed + i, below 2**32 (MinAtar), above every run's


class RandomPolicy:
    """Uniform over ``n`` actions (``evaluate``'s agent interface)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def policy(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(self.n, size=len(obs))


def random_returns(env_cfg: EnvConfig, episodes: int = RANDOM_EPISODES) -> np.ndarray:
    """``episodes`` returns of the random policy on ``env_cfg``'s evaluation env."""
    env = make_env(env_cfg, train=False)
    n = int(env.action_space.n)  # type: ignore[attr-defined]
    env.close()
    return evaluate(RandomPolicy(n), env_cfg, episodes, 1.0, seed=RANDOM_SEED)


def random_row(out: Path, suite: str, game: str, run_dir: str | Path) -> np.ndarray:
    """The random policy's returns for ``game`` of sweep ``out`` (names checked by the report),
    on the env of ``run_dir``; cached in ``out/random/``."""
    env = load_config(Path(run_dir) / "config.yaml").env
    path = out / "random" / f"{suite}_{game}.json"
    want = {"env": to_dict(env), "episodes": RANDOM_EPISODES, "seed": RANDOM_SEED}
    if path.is_file():
        have = read_json(path, "random-policy returns")
        if all(have.get(k) == v for k, v in want.items()):
            return np.asarray(have["returns"], float)
    returns = random_returns(env)
    check_target(path, out)  # SWEEP/random/ made here, never through a link
    write_json(path, {**want, "returns": returns.tolist()})
    return returns


def beats_random_p(finals: list[float], random: np.ndarray) -> float:
    """One-sided Welch p-value of 'the runs' final returns exceed the random policy's episodes'
    (nan with fewer than 2 runs or no variance at all)."""
    a = np.asarray(finals, float)
    if len(a) < 2 or (a.std() == 0 and random.std() == 0):
        return math.nan
    return float(sps.ttest_ind(a, random, equal_var=False, alternative="greater").pvalue)


def random_section(
    out: Path,
    suite: str,
    games: list[str],
    groups: Groups,
    methods: list[str],
    labels: dict[str, str],
) -> list[str]:
    """Every method against the random policy, per game: its runs' mean final return and the
    one-sided Welch p-value (runs vs the random policy's episodes), Holm over the table."""
    cells: list[tuple[str, str, float, float]] = []
    rand: dict[str, np.ndarray] = {}
    for g in games:
        runs = [r for m in methods for r in groups[(suite, g)].get(m, [])]
        where = next(
            (r["run_dir"] for r in runs if (Path(r["run_dir"]) / "config.yaml").is_file()), None
        )
        if where is None:
            continue  # no run folder here to read the env from
        rand[g] = random_row(out, suite, g, where)
        for m in methods:
            finals = [float(r["eval_return_mean"]) for r in groups[(suite, g)].get(m, [])]
            if finals:
                cells.append((g, m, float(np.mean(finals)), beats_random_p(finals, rand[g])))
    if not cells:
        return []
    adjusted = dict(zip([(g, m) for g, m, _, _ in cells], holm([c[3] for c in cells]), strict=True))
    means = {(g, m): x for g, m, x, _ in cells}
    lines = [
        "",
        f"Against the random policy: final return, mean over runs; p: one-sided Welch test of the "
        f"runs' final returns against {RANDOM_EPISODES} random-policy episodes (`random/`), Holm "
        f"over the {sum(1 for c in cells if c[3] == c[3])} tests of this table; ✓: above random "
        "at 0.05.",
        "",
        "| game | random policy | " + " | ".join(labels[m] for m in methods) + " |",
        "|---|---|" + "---|" * len(methods),
    ]
    for g, r in rand.items():
        row = []
        for m in methods:
            if (g, m) not in means:
                row.append("–")
                continue
            q = adjusted[(g, m)]
            row.append(
                f"{means[(g, m)]:.2f}"
                + ("" if q != q else f", p {q:.2g}{' ✓' if q < 0.05 else ''}")
            )
        lines.append(f"| {g} | {r.mean():.2f} (sd {r.std():.2f}) | " + " | ".join(row) + " |")
    return lines
