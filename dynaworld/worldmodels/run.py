"""A World Models run directory: its config, its identity checks and where each artifact lives.

Iteration 1 (the paper's procedure) writes into the run directory itself; iteration k > 1 of the
iterative procedure writes into ``iter<k>/`` (its rollouts by C, their encoding, M and C)::

    config.yaml, run.json, history.jsonl    the run's settings and record
    data/                iteration 1's rollouts (or cfg.data_dir, shared between runs)
    vae.pt, vae_log.csv, vae_recon.png         V (trained once, in iteration 1)
    encoded/             mu, logvar of every frame + actions, rewards, terminations
    mdn.pt, mdn_log.csv                        M
    C_<variant>[_dream_tau<t>]/                a controller: es.pt, log.csv, params.npy, eval.json
    iter<k>/data, iter<k>/encoded, iter<k>/mdn.pt, iter<k>/C_.../     iteration k > 1
    random_eval.json     the random policy on the same evaluation episodes
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from dynaworld import rundir
from dynaworld.agents.cmaes import trained_generations
from dynaworld.checkpoint import load_file
from dynaworld.config import flatten, load_yaml, save_config, to_dict
from dynaworld.device import resolve_device, usable_cores
from dynaworld.envs.frames import DOOM, DOOM_BANDS
from dynaworld.errors import ConfigError, DynaworldError
from dynaworld.files import read_json
from dynaworld.runlog import write_json
from dynaworld.worldmodels.config import WorldModelsConfig, rollouts_at

# Evaluation episodes: episode i of a block plays seed BLOCK + i. 'validation' (every controller
# so far was chosen, and CMA-ES's periodic evaluations made at VALIDATION // 2, on it) is for
# choosing; 'test' is for final claims only and is never used by training, data or CMA-ES
# (tests/test_worldmodels_seeds.py checks every shipped config's seeds against both).
EVAL_BLOCKS = {"validation": 1_000_000, "test": 2_000_000_000}
EVAL_SEED = EVAL_BLOCKS["validation"]
RESERVED = (EVAL_SEED // 2, 10**9)  # no training track lies here: fitness_track skips it


def eval_file(block: str) -> str:
    """The file an evaluation on ``block`` writes: eval.json (validation), eval_test.json."""
    return "eval.json" if block == "validation" else f"eval_{block}.json"


def fitness_track(g: int, offset: int) -> int:
    """The first track of generation ``g``'s CMA-ES rollouts on the real env (rollout j plays
    this + j): ``g * 10_000 + offset``, moved above ``RESERVED`` from generation 50 on so that
    no training track is ever an evaluation track."""
    t = g * 10_000 + offset
    return t if t < RESERVED[0] else t - RESERVED[0] + RESERVED[1]


# settings -> the artifact made with them: once it exists, they may not change in this run dir
SHARED = {
    "env": "data",
    "data": "data",
    "data_dir": "data",
    "vae": "vae.pt",
    "mdn": "mdn.pt",
    "iterate": "iter2",
}


# settings inside SHARED sections that say how a stage runs or how far the run goes (iteration k's
# data, V and M do not depend on how many iterations follow), not what it makes
HOW = ("data.workers", "iterate.iterations")
# es settings that say how far, on how many processes or how often C's mean is scored (log.csv
# records each score), not what CMA-ES computes
C_HOW = ("es.generations", "es.workers", "es.eval_every")


def iteration_dir(run_dir: Path, k: int) -> Path:
    """Where iteration k of a run writes: the run directory for k = 1, ``iter<k>/`` after."""
    return run_dir if k == 1 else run_dir / f"iter{k}"


def iteration_of(folder: Path) -> int | None:
    """k when ``folder`` is a run's ``iter<k>/`` folder (k > 1), else None (a run directory)."""
    k = folder.name.removeprefix("iter")
    return int(k) if folder.name.startswith("iter") and k.isdigit() and int(k) > 1 else None


def changes(
    old: dict[str, Any], new: dict[str, Any], sections: Iterable[str], keep: Iterable[str]
) -> list[str]:
    """'key=old (now new)' for each dotted setting under ``sections`` in which two configs differ,
    but those in ``keep``. A key the old record lacks was added to dynaworld after the record was
    written and counts as its default (new settings default to the behaviour before them); a key
    that no longer exists shows as None."""
    fo = {**flatten(to_dict(WorldModelsConfig())), **flatten(old)}
    fn, under = flatten(new), set(sections)
    keys = {k for k in fo.keys() | fn.keys() if k.split(".")[0] in under} - set(keep)
    return [
        f"{k}={fo.get(k)!r} (now {fn.get(k)!r})" for k in sorted(keys) if fo.get(k) != fn.get(k)
    ]


def params_digest(folder: Path) -> str:
    """sha256 of a C folder's params.npy: eval.json records it, so a C trained on after its
    evaluation shows as stale in reports ('' when there is none)."""
    path = folder / "params.npy"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def eval_check(e: dict[str, Any], folder: Path) -> str:
    """Whether an eval.json ``e`` scored the C in ``folder``: '' (yes, or it records no digest),
    'stale' (params.npy changed since: C was trained on after it), 'unchecked' (no params.npy,
    e.g. a shared folder without it)."""
    digest = e.get("params_sha256")
    if not digest:
        return ""
    if not (folder / "params.npy").exists():
        return "unchecked"
    return "stale" if digest != params_digest(folder) else ""


class WorldModelsRun:
    """The paths and settings of one World Models run directory (``Pipeline`` runs it)."""

    def __init__(
        self, cfg: WorldModelsConfig, run_dir: str | Path, record: bool = True, first: int = 1
    ) -> None:
        """``record=False``: a command that reads the run (evaluate, probe, dream, a controller of
        an experiment, whose settings its C folder records) leaves ``config.yaml`` as it is, so
        a command started beside it still reads the settings the run was made with. ``first``:
        the first iteration this command trains (``run --from-iteration``); the C of earlier
        iterations are kept, so their settings may differ from ``cfg``'s."""
        self.cfg, self.dir = cfg, Path(run_dir)
        rundir.check_kind(self.dir, "worldmodels", "dynaworld worldmodels")
        self._check_same_run()
        if record:  # refused before anything is recorded
            self.named_start()
            self.check_first(first)
            for k in range(first, cfg.iterate.iterations + 1):
                self.check_c(k)
            rundir.claim(self.dir, "worldmodels", "dynaworld worldmodels")
            path = self.dir / "config.yaml"
            if not path.exists() or load_yaml(path) != to_dict(cfg):  # say when settings changed
                save_config(cfg, path)
                rundir.record(self.dir, "config", config=to_dict(cfg))
        self.device = resolve_device(cfg.device)
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        self.doom = cfg.env.id == DOOM

    def _check_same_run(self) -> None:
        """Refuse to mix data, V or M of different settings in one run directory."""
        path = self.dir / "config.yaml"
        if not path.exists():
            return
        made = [k for k, artifact in SHARED.items() if (self.dir / artifact).exists()]
        diff = changes(load_yaml(path), to_dict(self.cfg), made, HOW)
        if diff:
            raise ConfigError(
                f"{self.dir} was made with {'; '.join(diff)}: its data, V or M would mix two "
                "settings. Use a new --run-dir (controller and es settings may change freely, and "
                "settings of stages not run yet)"
            )

    # ------------------------------------------------------------------ where things are
    def iteration_dir(self, k: int) -> Path:
        return iteration_dir(self.dir, k)

    def data_dir(self, k: int = 1) -> Path:
        if k > 1:
            return self.iteration_dir(k) / "data"
        return Path(self.cfg.data_dir) if self.cfg.data_dir else self.dir / "data"

    def encoded_dir(self, k: int = 1) -> Path:
        return self.iteration_dir(k) / "encoded"

    def m_path(self, k: int = 1) -> Path:
        return self.iteration_dir(k) / "mdn.pt"

    def c_dir(
        self, k: int = 1, dream_models: int | None = None, es_seed: int | None = None
    ) -> Path:
        """C_k's folder for this run's controller and es settings (``dream_models`` / ``es_seed``:
        the folder of the C that differs from this one only in those)."""
        es = self.cfg.es
        models = es.dream_models if dream_models is None else dream_models
        seed = es.seed if es_seed is None else es_seed
        name = f"C_{self.cfg.controller.variant}"
        if es.where == "dream":
            name += f"_dream_tau{es.temperature:g}"
            name += "_sampled" if es.dream_done == "sample" else ""
            name += f"_models{models}" if models > 1 else ""
        name += "_fromzero" if es.start == "zero" and k > 1 else ""
        name += (
            f"_from-{es.start.replace('/', '-')}" if es.start not in ("previous", "zero") else ""
        )
        name += f"_seed{seed}" if seed else ""
        return self.iteration_dir(k) / name

    def named_start(self) -> Path | None:
        """The params.npy of the C folder ``es.start`` names (None for 'previous' and 'zero');
        refused when it lies outside the run directory or has no params.npy."""
        start = self.cfg.es.start
        if start in ("previous", "zero"):
            return None
        folder = self.dir / start
        if not folder.resolve().is_relative_to(self.dir.resolve()):
            raise ConfigError(f"es.start={start}: {folder} lies outside the run directory")
        if not (folder / "params.npy").is_file():
            raise ConfigError(f"es.start={start}: {folder} has no params.npy (train that C first)")
        return folder / "params.npy"

    def check_c(self, k: int) -> Path:
        """C_k's folder; refuses to continue a CMA-ES state made with other controller / es
        settings (only those in ``C_HOW`` may change on resume). Writes nothing."""
        folder = self.c_dir(k)
        path = folder / "config.yaml"
        if path.exists() and (folder / "es.pt").exists():
            old = load_yaml(path)
            keep = C_HOW + (("es.rollouts_from",) if self._future_only(old, folder) else ())
            diff = changes(old, to_dict(self.cfg), ("controller", "es", "seed"), keep)
            if diff:
                raise ConfigError(
                    f"{folder} holds a CMA-ES run made with {'; '.join(diff)}: continuing it would "
                    "mix two settings in one record. Only es.generations, es.workers, "
                    "es.eval_every and es.rollouts_from's generations not yet made may change on "
                    "resume; use es.seed=N (a new folder) or a new run dir"
                )
        return folder

    def _future_only(self, old: dict[str, Any], folder: Path) -> bool:
        """Whether this run's es.rollouts_from gives every generation the CMA-ES in ``folder``
        has made the rollouts the recorded one did (a schedule for later generations only)."""
        es, made = self.cfg.es, trained_generations(folder)
        before = old.get("es", {}).get("rollouts_from", [])
        rollouts = old.get("es", {}).get("rollouts", es.rollouts)
        return all(
            rollouts_at(rollouts, before, g) == es.rollouts_at(g) for g in range(1, made + 1)
        )

    def claim_c(self, k: int) -> Path:
        """C_k's folder, its settings recorded there; refuses to continue a CMA-ES state made
        with other controller / es settings (only those in ``C_HOW`` may change on resume)."""
        folder = self.check_c(k)
        folder.mkdir(parents=True, exist_ok=True)
        save_config(self.cfg, folder / "config.yaml")
        record = folder / "cores.json"  # for core-hours: the most cores any session could use
        old_cores = read_json(record, "cores record")["cores"] if record.exists() else 0
        write_json(record, {"cores": max(usable_cores(), int(old_cores))})
        return folder

    def check_first(self, first: int) -> None:
        """Refuse, naming why, a first iteration (``run --from-iteration``) the run cannot start
        from: after its last, or without these settings' C_(first-1) to collect with."""
        if first == 1:
            return
        previous, last = self.c_dir(first - 1), self.cfg.iterate.iterations
        if first > last:
            raise ConfigError(f"--from-iteration {first} is after iterate.iterations={last}")
        if not (previous / "params.npy").exists():
            raise ConfigError(
                f"--from-iteration {first} collects with {previous}, which has no params.npy: "
                f"train it with 'dynaworld worldmodels experiment ... --iteration {first - 1}'"
            )

    def last_iteration(self) -> int:
        """The last iteration whose controller has parameters (1 if none has)."""
        done = [
            k
            for k in range(1, self.cfg.iterate.iterations + 1)
            if (self.c_dir(k) / "params.npy").exists()
        ]
        return done[-1] if done else 1

    # ------------------------------------------------------------------ what C sees and does
    @property
    def observe(self) -> str:
        if self.cfg.controller.variant != "full":
            return "z"
        return "zch" if self.doom else "zh"

    @property
    def spec(self) -> dict[str, Any]:
        c = self.cfg.controller
        return {
            "observe": self.observe,
            "head": "discrete3" if self.doom else "car",
            "hidden": c.hidden if c.variant == "v_hidden" else 0,
            "bands": list(DOOM_BANDS) if self.doom else [0, 1, 2],
        }

    def env_kw(self, training: bool) -> dict[str, Any]:
        """make_wm_env's arguments; final evaluation (training=False) always uses Gymnasium."""
        e = self.cfg.env
        return {
            "env_id": e.id,
            "size": e.size,
            "max_episode_steps": e.max_episode_steps,
            "backend": e.backend if training else "gymnasium",
            "doom_skill": e.doom_skill,
        }

    def load(self, path: Path, what: str) -> dict[str, Any]:
        if not path.exists():
            raise DynaworldError(f"{path} does not exist yet: {what}")
        return load_file(path, "World Models checkpoint")
