"""World Models' run: Algorithm 1 (``loop.Loop``) with the parts of ``setting``, and its stage commands.

Iteration k: the M real interactions are rollouts (k = 1: ``data.rollouts`` random ones; k > 1:
``iterate.rollouts`` of C_(k-1), exploring); UPDATEMODEL trains V (k = 1 only), encodes the new
rollouts and trains M on all rollouts so far; the P planning steps are ``es.generations`` CMA-ES
generations of C, scored in M's dream or on the real env. ``Pipeline.run()`` runs the K
iterations, then evaluates the last C on real episodes. The CLI's stages (collect, train-v,
encode, train-m, train-c, evaluate) are views of iteration 1's parts. Every part skips what it
finished and V, M and CMA-ES checkpoint inside, so rerunning any command resumes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynaworld.config import from_dict, load_yaml, merge, parse_overrides
from dynaworld.errors import ConfigError, DynaworldError
from dynaworld.loop import Loop, LoopState
from dynaworld.parallel import Pool, make_pool
from dynaworld.progress import progress_bar
from dynaworld.worldmodels import control, fit
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.run import WorldModelsRun
from dynaworld.worldmodels.setting import (
    ControllerEvolution,
    RealRollouts,
    Record,
    RefitVM,
    WorldModelsAgent,
)

STAGES = ("collect", "train_v", "encode", "train_m", "train_c", "evaluate")


class GenerationBar:
    """One progress bar per iteration's planning steps (CMA-ES generations)."""

    def __init__(self, total: int, enabled: bool, what: str = "") -> None:
        self.total, self.enabled, self.what, self.k, self.bar = total, enabled, what, 0, None

    def __call__(self, k: int, row: dict[str, Any]) -> None:
        if k != self.k:
            self.close()
            self.k = k
            g = int(row["generation"]) - 1
            self.bar = progress_bar(
                total=self.total,
                initial=g,
                desc=f"CMA-ES {self.what}iteration {k}",
                unit="gen",
                disable=not self.enabled,
            )
        assert self.bar is not None
        self.bar.update()
        self.bar.set_postfix(best=f"{row['fitness_best']:.1f}", mean=f"{row['fitness_mean']:.1f}")
        if int(row["generation"]) >= self.total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Pipeline:
    def __init__(
        self,
        cfg: WorldModelsConfig,
        run_dir: str | Path,
        ray_address: str | None = None,
        progress: bool = True,
        record: bool = True,
        first: int = 1,
    ) -> None:
        """``record``: whether ``cfg`` becomes the run's ``config.yaml``; ``first``: the first
        iteration ``run`` will train (see ``WorldModelsRun``)."""
        self.cfg, self.ray, self.progress = cfg, ray_address, progress
        self.paths = WorldModelsRun(cfg, run_dir, record, first)
        self.record: Record = {}

    @property
    def needs_m(self) -> bool:
        return needs_m(self.cfg)

    def _pool(self, workers: int) -> Pool:
        return make_pool(workers, self.ray)

    # ------------------------------------------------------------------ Algorithm 1
    def loop(self, first: int = 1, last: int | None = None, plan_only: bool = False) -> Loop:
        """Iterations first..last (default K) as ``loop.Loop`` with World Models' parts
        (``setting``); what each part reports goes to ``self.record``. ``plan_only``: the
        train-c stage, C's planning steps alone (no interactions, no UPDATEMODEL)."""
        cfg, es, self.record = self.cfg, self.cfg.es, {}
        what = f"C {cfg.controller.variant}" + (
            f" τ={es.temperature:g} in the dream, " if es.where == "dream" else " on E, "
        )
        bar = GenerationBar(es.generations, self.progress, what)
        rollouts = RealRollouts(self.paths, self.ray, self.progress, self.record)
        refit = RefitVM(self.paths, self.needs_m, self.progress, self.record)
        evolution = ControllerEvolution(self.paths, es.generations,
                                        lambda: self._pool(es.workers), bar, self.record)  # fmt: skip
        return Loop(
            rollouts,
            WorldModelsAgent(self.paths),
            planning=[evolution],
            K=last or cfg.iterate.iterations,
            M=0 if plan_only else cfg.iterate.rollouts,
            first_M=0 if plan_only else cfg.data.rollouts,
            refit=() if plan_only else [refit],
            state=LoopState(iteration=first - 1),
        )

    def iterate(self, first: int = 1, last: int | None = None, plan_only: bool = False) -> Record:
        """Run ``loop(first, last, plan_only)``; what its parts reported, by part and iteration."""
        self.loop(first, last, plan_only).run()
        return dict(self.record)

    # ------------------------------------------------------------------ commands
    def run(self, stages: Iterable[str] | None = None, first: int = 1) -> dict[str, Any]:
        """All K iterations then the evaluation (``stages=None``), or iteration 1's stages.
        ``first`` > 1: iterations before it stay as they are; these settings' C_(first-1) must
        exist (a branch of the run: e.g. another C setting from iteration ``first`` on)."""
        if stages is None:
            self.paths.check_first(first)
            out = self.iterate(first)
            out["evaluate"] = self.evaluate(k=self.cfg.iterate.iterations)
            return out
        out = {}
        for s in stages:
            if s not in STAGES:
                raise ConfigError(f"unknown stage '{s}'; stages are {', '.join(STAGES)}")
            out[s] = self.stage(s)
        return out

    def stage(self, name: str) -> Any:
        if name == "collect":
            return RealRollouts(self.paths, self.ray, self.progress).rollouts(
                WorldModelsAgent(self.paths), 1, self.cfg.data.rollouts
            )
        if name == "train_v":
            return fit.train_v(self.paths, self.progress)
        if name == "encode":
            return fit.encode(self.paths, 1, self.progress)
        if name == "train_m":
            return fit.train_m(self.paths, 1, self.progress) if self.needs_m else {"skipped": True}
        if name == "train_c":
            return self.iterate(1, 1, plan_only=True)["agent_1"]
        return self.evaluate()

    def evaluate(
        self, episodes: int | None = None, k: int | None = None, block: str = "validation"
    ) -> dict[str, Any]:
        """C_k (default: the last iteration with a C) on real episodes of seed ``block``
        ('validation': eval.json; 'test': eval_test.json, for final claims only)."""
        n, k = episodes or self.cfg.eval_episodes, k or self.paths.last_iteration()
        pool = self._pool(control.workers_for(self.paths, n))
        try:
            return control.evaluate(self.paths, pool, k, n, block)
        finally:
            pool.shutdown()

    def evaluate_random(
        self, episodes: int | None = None, block: str = "validation"
    ) -> dict[str, Any]:
        n = episodes or self.cfg.eval_episodes
        pool = self._pool(control.workers_for(self.paths, n))
        try:
            return control.evaluate_random(self.paths, pool, n, block)
        finally:
            pool.shutdown()


def needs_m(cfg: WorldModelsConfig) -> bool:
    """Whether a controller of these settings needs M: the V-only ablations on E need none."""
    return cfg.controller.variant == "full" or cfg.es.where == "dream"


def load_run_config(run_dir: str | Path, overrides: Iterable[str] = ()) -> WorldModelsConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise DynaworldError(f"{run_dir} is not a World Models run directory (no config.yaml)")
    cfg = from_dict(WorldModelsConfig, merge(load_yaml(path), parse_overrides(overrides)))
    cfg.validate()
    return cfg
