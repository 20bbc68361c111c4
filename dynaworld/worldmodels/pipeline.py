"""World Models as a setting of Algorithm 1 (``loop.PopulationLoop``), and its stage commands.

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
from dynaworld.loop import Iteration, PopulationLoop
from dynaworld.parallel import Pool, make_pool
from dynaworld.progress import progress_bar
from dynaworld.worldmodels import control, fit
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.run import WorldModelsRun

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

    @property
    def needs_m(self) -> bool:
        return needs_m(self.cfg)

    def _pool(self, workers: int) -> Pool:
        return make_pool(workers, self.ray)

    # ------------------------------------------------------------------ iteration k's parts
    def collect(self, k: int = 1) -> dict[str, Any]:
        """Iteration k's real rollouts: random ones for k = 1, C_(k-1)'s after."""
        if k > 1:
            pool = self._pool(min(self.cfg.data.workers, self.cfg.iterate.rollouts))
            try:
                return control.collect(self.paths, k, pool, self.progress)
            finally:
                pool.shutdown()
        d, folder = self.cfg.data, self.paths.data_dir(1)
        if (folder / "meta.json").exists() and len(wmdata.rollout_files(folder)) >= d.rollouts:
            return {"skipped": True}
        return wmdata.collect(
            self.cfg.env.id,
            folder,
            d.rollouts,
            size=self.cfg.env.size,
            max_episode_steps=self.cfg.env.max_episode_steps,
            backend=self.cfg.env.backend,
            max_steps=d.max_steps,
            policy=d.policy,
            hold=wmdata.Hold.of(d),
            seed=d.seed,
            doom_skill=self.cfg.env.doom_skill,
            min_steps=d.min_steps,
            workers=d.workers,
            ray_address=self.ray,
            progress=self.progress,
        )

    def update_model(self, k: int = 1) -> dict[str, Any]:
        """UPDATEMODEL: V (iteration 1), the new rollouts encoded, M on all rollouts so far."""
        out = (
            {"encode": fit.encode(self.paths, k, self.progress)}
            if k > 1
            else {
                "train_v": fit.train_v(self.paths, self.progress),
                "encode": fit.encode(self.paths, 1, self.progress),
            }
        )
        if self.needs_m:
            out["train_m"] = fit.train_m(self.paths, k, self.progress)
        return out

    def iteration(self, k: int, plan_only: bool = False) -> Iteration:
        """Iteration k's parts (``plan_only``: the train-c stage, C's planning steps alone)."""
        skip = lambda: {"skipped": True}  # noqa: E731
        return Iteration(
            interact=skip if plan_only else (lambda: self.collect(k)),
            update_model=skip if plan_only else (lambda: self.update_model(k)),
            agent=lambda: control.agent(self.paths, k, lambda: self._pool(self.cfg.es.workers)),
        )

    def loop(
        self, first: int = 1, last: int | None = None, plan_only: bool = False
    ) -> PopulationLoop:
        es = self.cfg.es
        what = f"C {self.cfg.controller.variant}" + (
            f" τ={es.temperature:g} in the dream, " if es.where == "dream" else " on E, "
        )
        bar = GenerationBar(es.generations, self.progress, what)
        return PopulationLoop(
            lambda k: self.iteration(k, plan_only),
            K=last or self.cfg.iterate.iterations,
            P=self.cfg.es.generations,
            on_generation=bar,
            first=first,
        )

    # ------------------------------------------------------------------ commands
    def run(self, stages: Iterable[str] | None = None, first: int = 1) -> dict[str, Any]:
        """All K iterations then the evaluation (``stages=None``), or iteration 1's stages.
        ``first`` > 1: iterations before it stay as they are; these settings' C_(first-1) must
        exist (a branch of the run: e.g. another C setting from iteration ``first`` on)."""
        if stages is None:
            self.paths.check_first(first)
            out = self.loop(first).run()
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
            return self.collect(1)
        if name == "train_v":
            return fit.train_v(self.paths, self.progress)
        if name == "encode":
            return fit.encode(self.paths, 1, self.progress)
        if name == "train_m":
            return fit.train_m(self.paths, 1, self.progress) if self.needs_m else {"skipped": True}
        if name == "train_c":
            return self.loop(1, 1, plan_only=True).run()["agent_1"]
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
