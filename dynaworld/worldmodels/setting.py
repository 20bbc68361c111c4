"""World Models as a setting of Algorithm 1 (``loop.Loop``): its E, π, UPDATEMODEL and planning.

Algorithm 1's parts, for World Models' iteration k:

- **E, the M interactions**: ``RealRollouts`` — M whole real episodes (rollouts) of π, played in
  worker processes and written to D (iteration k's rollout folder).
- **π**: ``WorldModelsAgent`` — k = 1 the data policy; k > 1 V + M_(k-1) + C_(k-1), exploring
  (``WorldModelsPolicy``, M's state carried).
- **UPDATEMODEL**: ``RefitVM``, once per iteration on all of D — V (k = 1), the new rollouts
  encoded, M on all rollouts so far.
- **P planning steps**: ``ControllerEvolution`` — C_k's CMA-ES generations (``loop.Evolution``),
  scored in M_k's dream or on E.

Each part skips what it finished and V, M and CMA-ES checkpoint inside, so rerunning resumes.
``Record`` keeps what each part reports, by part and iteration (``interact_1``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dynaworld.agents.cmaes import CMAES
from dynaworld.loop import Evolution, LoopState
from dynaworld.parallel import Pool, make_pool
from dynaworld.worldmodels import control, fit
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.rollout import (
    Acting,
    ControllerActing,
    DataActing,
    collect,
    play_rollouts,
)
from dynaworld.worldmodels.run import WorldModelsRun

Record = dict[str, Any]


@dataclass
class WorldModelsAgent:
    """π and v of World Models: V, M and C. At iteration k its real episodes are those of
    ``acting(k)``; during iteration k's planning ``search`` is C_k's CMA-ES (the population
    agent ``ControllerEvolution`` drives). A worker process builds π from ``acting(k)``."""

    run: WorldModelsRun
    search: CMAES | None = None

    def acting(self, k: int) -> Acting:
        d, run = self.run.cfg.data, self.run
        if k == 1:
            return DataActing(d.policy, wmdata.Hold.of(d))
        params = np.load(run.c_dir(k - 1) / "params.npy")
        return ControllerActing(str(run.dir / "vae.pt"), str(run.m_path(k - 1)), run.spec, params,
                                run.cfg.iterate.epsilon, wmdata.Hold.of(d))  # fmt: skip


@dataclass
class RealRollouts:
    """E, an interaction being one whole real episode: ``play`` writes the rollouts iteration k's
    folder lacks, each π's (``WorldModelsAgent.acting``), in parallel (process pool or Ray)."""

    run: WorldModelsRun
    ray: str | None = None
    progress: bool = True
    record: Record = field(default_factory=dict)

    def play(self, pi: WorldModelsAgent, episodes: int, st: LoopState) -> None:
        k = st.iteration + 1
        if episodes > 0:
            self.record[f"interact_{k}"] = self.rollouts(pi, k, episodes)

    def rollouts(self, pi: WorldModelsAgent, k: int, episodes: int) -> dict[str, Any]:
        cfg, folder, acting = self.run.cfg, self.run.data_dir(k), pi.acting(k)
        if isinstance(acting, DataActing):  # k = 1: meta.json marks a finished data set
            if (folder / "meta.json").exists() and len(wmdata.rollout_files(folder)) >= episodes:
                return {"skipped": True}
            e, d = cfg.env, cfg.data
            return collect(e.id, folder, episodes, size=e.size, max_episode_steps=e.max_episode_steps,
                           backend=e.backend, max_steps=d.max_steps, policy=acting.policy,
                           hold=acting.hold, seed=d.seed, doom_skill=e.doom_skill,
                           min_steps=d.min_steps, workers=d.workers, ray_address=self.ray,
                           progress=self.progress)  # fmt: skip
        seed, workers = cfg.data.seed + 10_000_000 * k, min(cfg.data.workers, episodes)
        results = play_rollouts(self.run.env_kw(True), folder, episodes, acting, seed,
                                lambda n: make_pool(workers, self.ray), max_steps=cfg.data.max_steps,
                                desc=f"collect {k}", progress=self.progress)  # fmt: skip
        if not results:
            return {"skipped": True}
        return {"rollouts": len(results), "mean_return": float(np.mean([r["return"] for r in results]))}  # fmt: skip


@dataclass
class RefitVM:
    """UPDATEMODEL once per iteration, on all of D: V (iteration 1), the new rollouts encoded,
    M on all rollouts so far (when C needs M)."""

    run: WorldModelsRun
    needs_m: bool
    progress: bool = True
    record: Record = field(default_factory=dict)

    def refit(self, st: LoopState) -> None:
        self.record[f"update_model_{st.iteration + 1}"] = self.update(st.iteration + 1)

    def update(self, k: int) -> dict[str, Any]:
        out = {} if k > 1 else {"train_v": fit.train_v(self.run, self.progress)}
        out["encode"] = fit.encode(self.run, k, self.progress)
        if self.needs_m:
            out["train_m"] = fit.train_m(self.run, k, self.progress)
        return out


@dataclass
class ControllerEvolution:
    """The planning steps of iteration k: C_k's CMA-ES (``control.agent``: it starts from C_(k-1)
    and is scored in M_k's dream or on E) made to ``P`` generations by ``loop.Evolution``."""

    run: WorldModelsRun
    P: int
    pool: Callable[[], Pool]
    on_generation: Callable[[int, dict[str, Any]], None] | None = None
    record: Record = field(default_factory=dict)

    def plan(self, pi: WorldModelsAgent, st: LoopState) -> None:
        k = st.iteration + 1
        search, fitness, close = control.agent(self.run, k, self.pool)
        pi.search = search
        shown = self.on_generation
        try:
            Evolution(fitness, self.P, (lambda row: shown(k, row)) if shown else None).plan(
                search, st
            )
        finally:
            close()
        self.record[f"agent_{k}"] = {"generations": search.generation}
