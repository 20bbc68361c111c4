"""CMA-ES (pycma) over a controller's flat parameters, checkpointed every generation.

``evolve`` asks for a population, has ``fitness`` score it (real rollouts on a process pool or
Ray, or one batched dream program), tells pycma, logs ``log.csv`` and writes ``es.pkl`` atomically,
so a killed run resumes at the generation it reached. Every ``eval_every`` generations the
distribution's mean is scored on more rollouts (``evaluate``); the best such mean is kept.
"""

from __future__ import annotations

import csv
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.errors import CheckpointError
from dynaworld.files import atomic_write
from dynaworld.progress import progress_bar

LOG_COLUMNS = (
    "generation", "fitness_best", "fitness_mean", "fitness_std", "sigma",
    "eval_mean", "eval_std", "wall_time_s",
)  # fmt: skip

Fitness = Callable[[np.ndarray, int], np.ndarray]  # (P, n) params, generation -> (P,) returns
Evaluate = Callable[[np.ndarray], np.ndarray]  # (n,) params -> returns of the eval rollouts


def _atomic_pickle(obj: Any, path: Path) -> None:
    with atomic_write(path) as f:
        pickle.dump(obj, f)


def load_state(folder: Path) -> dict[str, Any] | None:
    path = folder / "es.pkl"
    if not path.exists():
        return None
    try:
        with open(path, "rb") as f:
            return pickle.load(f)  # noqa: S301 - our own file
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(
            f"{path}: corrupt CMA-ES checkpoint ({e}); nothing was deleted"
        ) from None


def evolve(
    folder: str | Path,
    n_params: int,
    fitness: Fitness,
    evaluate: Evaluate,
    *,
    generations: int,
    popsize: int = 64,
    sigma0: float = 0.1,
    eval_every: int = 25,
    l2: float = 0.0,
    seed: int = 0,
    diagonal: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run CMA-ES to ``generations`` (resuming from ``folder/es.pkl``); returns the final state."""
    import cma

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = load_state(out)
    if state is None:
        opts = {"popsize": popsize, "seed": seed + 1, "verbose": -9}
        if diagonal:
            opts["CMA_diagonal"] = True
        es = cma.CMAEvolutionStrategy(np.zeros(n_params), sigma0, opts)
        state = {
            "es": es,
            "generation": 0,
            "best_eval": -np.inf,
            "best_params": np.zeros(n_params),
            "wall_time_s": 0.0,
        }
    log_path = out / "log.csv"
    rows = []
    if log_path.exists():  # keep the rows of generations the checkpoint has
        with open(log_path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["generation"]) <= state["generation"]]
    with open(log_path, "w", newline="") as f:
        w = csv.DictWriter(f, LOG_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    es = state["es"]
    bar = progress_bar(
        total=generations,
        initial=state["generation"],
        desc="CMA-ES",
        unit="gen",
        disable=not progress,
    )
    while state["generation"] < generations:
        start = time.time()
        g = state["generation"] + 1
        candidates = np.asarray(es.ask())
        returns = np.asarray(fitness(candidates, g), np.float64)
        penalty = l2 * (candidates**2).sum(axis=1)
        es.tell(list(candidates), list(-(returns - penalty)))  # pycma minimises
        row: dict[str, Any] = {
            "generation": g,
            "fitness_best": returns.max(),
            "fitness_mean": returns.mean(),
            "fitness_std": returns.std(),
            "sigma": es.sigma,
        }
        if g % eval_every == 0 or g == generations:
            mean = np.asarray(es.mean)
            scores = np.asarray(evaluate(mean))
            row.update(eval_mean=scores.mean(), eval_std=scores.std())
            if scores.mean() > state["best_eval"]:
                state["best_eval"], state["best_params"] = float(scores.mean()), mean.copy()
        state["generation"] = g
        state["wall_time_s"] += time.time() - start
        row["wall_time_s"] = round(state["wall_time_s"], 1)
        _atomic_pickle(state, out / "es.pkl")
        np.save(out / "params.npy", state["best_params"])
        with open(log_path, "a", newline="") as f:
            csv.DictWriter(f, LOG_COLUMNS).writerow(row)
        bar.update()
        bar.set_postfix(best=f"{row['fitness_best']:.1f}", mean=f"{row['fitness_mean']:.1f}")
    bar.close()
    return state
