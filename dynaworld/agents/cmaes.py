"""CMA-ES (pycma) over a controller's flat parameters, checkpointed every generation.

``CMAES`` is the population agent; ``loop.Evolution`` (the planning step it is driven by, also
through ``evolve``) asks it for a population, has ``fitness`` score it (real rollouts on a process pool or
Ray, or one batched dream program), tells pycma, logs ``log.csv`` and writes ``es.pt`` atomically,
so a killed run resumes at the generation it reached. ``es.pt`` is plain data (``dynaworld.plain``):
pycma's arrays and counters and the RNG, written back into a pycma object built afresh from the
run's settings, so a crafted file cannot run code (pycma ``eval``s option strings: none are read). Every ``eval_every`` generations the
distribution's mean is scored on more rollouts (``evaluate``); the best such mean is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tensorboardX import SummaryWriter

from dynaworld import plain
from dynaworld.checkpoint import load_file, save_file
from dynaworld.errors import CheckpointError, DynaworldError
from dynaworld.files import atomic_write
from dynaworld.loop import Evolution, Fitness
from dynaworld.progress import progress_bar
from dynaworld.runlog import CsvLog, read_csv

LOG_COLUMNS = (
    "generation", "fitness_best", "fitness_mean", "fitness_std", "sigma",
    "eval_mean", "eval_std", "wall_time_s",
)  # fmt: skip


def read_log(folder: Path) -> list[dict[str, str]]:
    """A CMA-ES folder's ``log.csv``: one row per generation, ``LOG_COLUMNS`` -> text
    (``eval_mean`` and ``eval_std`` empty where the mean was not evaluated)."""
    if not (folder / "log.csv").exists():
        raise DynaworldError(f"{folder} has no CMA-ES log.csv (is it a C_* folder?)")
    return read_csv(folder / "log.csv")


Evaluate = Callable[[np.ndarray], np.ndarray]  # (n,) params -> returns of the eval rollouts


STATE_FILE = "es.pt"
# rebuilt from the settings, never read (and pycma's data logger and wall-clock timer, unused)
_OPTIONS = ("opts", "inopts", "inputargs", "_es_opts", "logger", "timer")


def new_es(
    n_params: int, sigma0: float, popsize: int, seed: int, diagonal: bool,
    x0: np.ndarray | None = None,
) -> Any:  # fmt: skip
    """pycma's CMA-ES from zero weights (the reference's start) or ``x0``, seeded."""
    import cma

    opts: dict[str, Any] = {"popsize": popsize, "seed": seed + 1, "verbose": -9}
    if diagonal:
        opts["CMA_diagonal"] = True
    start = np.zeros(n_params) if x0 is None else np.asarray(x0, np.float64)
    return cma.CMAEvolutionStrategy(start, sigma0, opts)


def save_state(state: dict[str, Any], folder: Path) -> None:
    # What capture cannot encode in pycma is configuration the fresh object has (functions in
    # option dicts); the resume tests pin that the restored strategy continues bit-identically.
    es_state, _ = plain.capture(state["es"], skip=_OPTIONS)
    out = {
        "format": "dynaworld.cmaes/1",
        "es": es_state,
        "np_random": plain.encode(np.random.get_state()),  # noqa: NPY002 - pycma uses it
        **{k: plain.encode(state[k]) for k in ("generation", "best_eval", "best_params")},
        "wall_time_s": state["wall_time_s"],
    }
    save_file(out, folder / STATE_FILE)


def load_state(folder: Path, es: Any) -> dict[str, Any] | None:
    """The state saved in ``folder``, written into ``es`` (a fresh ``new_es``); None if none."""
    path = folder / STATE_FILE
    if not path.exists():
        if (folder / "es.pkl").exists():
            raise CheckpointError(
                f"{folder / 'es.pkl'} is a pickled CMA-ES state from dynaworld < 0.2, which is "
                f"not loaded (a pickle can run code): delete {folder} to start this stage again"
            )
        return None
    d = load_file(path, "CMA-ES state")
    try:
        if not isinstance(d, dict) or d.get("format") != "dynaworld.cmaes/1":
            raise ValueError("not a dynaworld CMA-ES state")
        plain.restore(es, d["es"])
        if not hasattr(es, "timer"):  # pycma makes its wall-clock timer at the first ask
            from cma.utilities.utils import ElapsedWCTime

            es.timer = ElapsedWCTime()
        np.random.set_state(plain.decode(d["np_random"]))  # noqa: NPY002
        state = {k: plain.decode(d[k]) for k in ("generation", "best_eval", "best_params")}
        if len(state["best_params"]) != len(es.mean):
            raise ValueError(f"{len(state['best_params'])} parameters, this C has {len(es.mean)}")
    except Exception as e:  # noqa: BLE001 - wrong shapes, a state of another pycma
        raise CheckpointError(
            f"{path}: corrupt CMA-ES checkpoint ({type(e).__name__}: {e}); nothing was deleted"
        ) from None
    return {**state, "es": es, "wall_time_s": float(d["wall_time_s"])}


def trained_generations(folder: Path) -> int:
    """Generations the CMA-ES state in ``folder`` has made (0 if none)."""
    path = folder / STATE_FILE
    return int(plain.decode(load_file(path, "CMA-ES state")["generation"])) if path.exists() else 0


def generations_made(folder: Path) -> int:
    """Generations a C folder's CMA-ES made: its state's count, else the last generation of its
    ``log.csv`` (a C committed without ``es.pt``), else 0."""
    made = trained_generations(folder)
    if made or not (folder / "log.csv").exists():
        return made
    rows = read_log(folder)
    return int(rows[-1]["generation"]) if rows else 0


class CMAES:
    """C's population UPDATEAGENT: ``ask`` for candidates, ``tell`` their returns.

    Algorithm 1's UPDATEAGENT learns from transitions; CMA-ES learns from the mean returns of whole
    episodes of a population, so it has this contract instead (``loop.PopulationAgent``). Each
    ``tell`` is one generation: it logs ``log.csv``, scores the mean every ``eval_every``
    generations with ``evaluate``, keeps the best such mean (``params.npy``) and writes ``es.pt``,
    so a killed run resumes at the generation it reached.
    """

    def __init__(
        self,
        folder: str | Path,
        n_params: int,
        evaluate: Evaluate,
        *,
        popsize: int = 64,
        sigma0: float = 0.1,
        eval_every: int = 25,
        last: int | None = None,
        l2: float = 0.0,
        seed: int = 0,
        diagonal: bool = False,
        x0: np.ndarray | None = None,
    ) -> None:
        self.dir, self.evaluate = Path(folder), evaluate
        self.eval_every, self.last, self.l2 = eval_every, last, l2
        self.dir.mkdir(parents=True, exist_ok=True)
        es = new_es(n_params, sigma0, popsize, seed, diagonal, x0)
        start = np.zeros(n_params) if x0 is None else np.asarray(x0, np.float64)
        self.state = load_state(self.dir, es) or {
            "es": es, "generation": 0, "best_eval": -np.inf, "best_params": start.copy(),
            "wall_time_s": 0.0,
        }  # fmt: skip
        # the rows of the generations the checkpoint has (a killed run logged a few more)
        self.log = CsvLog(self.dir / "log.csv", LOG_COLUMNS, self.generation, step_key="generation")
        self.tb = SummaryWriter(str(self.dir / "tensorboard"), purge_step=self.generation + 1)

    @property
    def generation(self) -> int:
        return int(self.state["generation"])

    def ask(self) -> np.ndarray:
        self._start = time.time()
        return np.asarray(self.state["es"].ask())

    def tell(self, candidates: np.ndarray, returns: np.ndarray) -> dict[str, Any]:
        st, es = self.state, self.state["es"]
        returns = np.asarray(returns, np.float64)
        penalty = self.l2 * (candidates**2).sum(axis=1)
        es.tell(list(candidates), list(-(returns - penalty)))  # pycma minimises
        g = self.generation + 1
        row: dict[str, Any] = {
            "generation": g, "fitness_best": returns.max(), "fitness_mean": returns.mean(),
            "fitness_std": returns.std(), "sigma": es.sigma,
        }  # fmt: skip
        if g % self.eval_every == 0 or g == self.last:
            mean = np.asarray(es.mean)
            scores = np.asarray(self.evaluate(mean))
            row.update(eval_mean=scores.mean(), eval_std=scores.std())
            if scores.mean() > st["best_eval"]:
                st["best_eval"], st["best_params"] = float(scores.mean()), mean.copy()
        st["generation"] = g
        st["wall_time_s"] += time.time() - getattr(self, "_start", time.time())
        row["wall_time_s"] = round(st["wall_time_s"], 1)
        save_state(st, self.dir)
        with atomic_write(self.dir / "params.npy", "wb") as f:
            np.save(f, st["best_params"])
        self.log.write(row)
        self.log.flush()
        for key, value in row.items():
            if key not in ("generation", "wall_time_s"):
                self.tb.add_scalar(f"cmaes/{key}", float(value), g)
        return row

    def close(self) -> None:
        self.log.close()
        self.tb.close()


def evolve(
    folder: str | Path,
    n_params: int,
    fitness: Fitness,
    evaluate: Evaluate,
    *,
    generations: int,
    progress: bool = True,
    desc: str = "CMA-ES",
    **kw: Any,
) -> dict[str, Any]:
    """Run CMA-ES to ``generations`` (resuming from ``folder/es.pt``); returns the final state.
    ``kw``: ``CMAES``'s settings (popsize, sigma0, eval_every, l2, seed, diagonal, x0)."""
    agent = CMAES(folder, n_params, evaluate, last=generations, **kw)
    bar = progress_bar(
        total=generations, initial=agent.generation, desc=desc, unit="gen", disable=not progress
    )

    def shown(row: dict[str, Any]) -> None:
        bar.update()
        bar.set_postfix(best=f"{row['fitness_best']:.1f}", mean=f"{row['fitness_mean']:.1f}")

    try:
        Evolution(fitness, generations, shown).plan(agent)
    finally:
        bar.close()
        agent.close()
    return agent.state
