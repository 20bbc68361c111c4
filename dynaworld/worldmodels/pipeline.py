"""The World Models pipeline: collect -> V -> encode -> M -> C (CMA-ES) -> evaluate.

Everything lives in one run directory::

    config.yaml          the full config of the run (V, M and data are shared by its controllers)
    data/                random rollouts (or cfg.data_dir, shared between runs)
    vae.pt, vae_log.csv, vae_recon.png         V, its training log and reconstructions
    encoded/             mu, logvar of every frame + actions, rewards, terminations
    mdn.pt, mdn_log.csv                        M
    C_<variant>[_dream_tau<t>]/                a controller: es.pt, log.csv, params.npy, eval.json
    random_eval.json     the random policy on the same evaluation episodes
    tensorboard/         V and M losses

A stage whose output exists is skipped; V, M and CMA-ES also checkpoint inside their stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld import rundir
from dynaworld.checkpoint import load_file
from dynaworld.config import from_dict, load_yaml, save_config, to_dict
from dynaworld.envs.worldmodels import ACTION_SPACES, DOOM
from dynaworld.errors import ConfigError, DynaworldError
from dynaworld.files import atomic_write
from dynaworld.parallel import Pool, make_pool
from dynaworld.progress import progress_bar
from dynaworld.runlog import CsvLog, write_json
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.config import WorldModelsConfig

STAGES = ("collect", "train_v", "encode", "train_m", "train_c", "evaluate")
EVAL_SEED = 1_000_000  # evaluation episodes use seeds EVAL_SEED + i, never seen in training
# settings -> the artifact made with them: once it exists, they may not change in this run dir
SHARED = {"env": "data", "data": "data", "data_dir": "data", "vae": "vae.pt", "mdn": "mdn.pt"}


def _save(obj: dict[str, Any], path: Path) -> None:
    with atomic_write(path) as f:
        torch.save(obj, f)


def _load(path: Path) -> dict[str, Any]:
    return load_file(path, "World Models checkpoint")


class Pipeline:
    def __init__(
        self,
        cfg: WorldModelsConfig,
        run_dir: str | Path,
        ray_address: str | None = None,
        progress: bool = True,
    ) -> None:
        self.cfg, self.dir, self.ray, self.progress = cfg, Path(run_dir), ray_address, progress
        rundir.check_kind(self.dir, "worldmodels", "dynaworld worldmodels")
        self._check_same_run()
        rundir.claim(self.dir, "worldmodels", "dynaworld worldmodels")
        path = self.dir / "config.yaml"
        changed = not path.exists() or load_yaml(path) != to_dict(cfg)
        if changed:  # controller / es settings, or stages not run yet: say when they changed
            save_config(cfg, path)
            rundir.record(self.dir, "config", config=to_dict(cfg))
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
        )
        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        self.doom = cfg.env.id == DOOM

    def _check_same_run(self) -> None:
        """Refuse to mix data, V or M of different settings in one run directory."""
        path = self.dir / "config.yaml"
        if not path.exists():
            return
        old, new = load_yaml(path), to_dict(self.cfg)
        diff = [
            k
            for k, made in SHARED.items()
            if old.get(k) != new.get(k) and (self.dir / made).exists()
        ]
        if diff:
            raise ConfigError(
                f"{self.dir} was made with other {', '.join(diff)} settings; use a new --run-dir "
                "(controller and es settings may change freely, and settings of stages not run yet)"
            )

    # ------------------------------------------------------------------ names
    @property
    def data_dir(self) -> Path:
        return Path(self.cfg.data_dir) if self.cfg.data_dir else self.dir / "data"

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
        }

    @property
    def c_dir(self) -> Path:
        name = f"C_{self.cfg.controller.variant}"
        if self.cfg.es.where == "dream":
            name += f"_dream_tau{self.cfg.es.temperature:g}"
            name += "_sampled" if self.cfg.es.dream_done == "sample" else ""
        return self.dir / name

    # ------------------------------------------------------------------ stages
    def run(self, stages: Iterable[str] = STAGES) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for s in stages:
            if s not in STAGES:
                raise ConfigError(f"unknown stage '{s}'; stages are {', '.join(STAGES)}")
            if s == "train_m" and self.observe == "z" and self.cfg.es.where == "real":
                continue  # the V-only ablations need no M
            out[s] = getattr(self, s)()
        return out

    def _pool(self, workers: int) -> Pool:
        return make_pool(workers, self.ray)

    def collect(self) -> dict[str, Any]:
        d, meta = self.cfg.data, self.data_dir / "meta.json"
        if meta.exists() and len(wmdata.rollout_files(self.data_dir)) >= d.rollouts:
            return {"skipped": True}
        return wmdata.collect(
            self.cfg.env.id, self.data_dir, d.rollouts, size=self.cfg.env.size,
            max_episode_steps=self.cfg.env.max_episode_steps, backend=self.cfg.env.backend,
            max_steps=d.max_steps, policy=d.policy, hold_max=d.hold_max, seed=d.seed,
            doom_skill=self.cfg.env.doom_skill, min_steps=d.min_steps,
            workers=d.workers, ray_address=self.ray, progress=self.progress,
        )  # fmt: skip

    def _files(self) -> list[Path]:
        files = wmdata.rollout_files(self.data_dir)[: self.cfg.data.rollouts]
        if not files:
            raise DynaworldError(f"no rollouts in {self.data_dir}: run the 'collect' stage first")
        return files

    def _train(
        self,
        name: str,
        model: torch.nn.Module,
        lr: float,
        steps: int,
        batches: Callable[[int], Iterable[Any]],
        loss: Callable[[Any], tuple[torch.Tensor, dict[str, float]]],
        columns: tuple[str, ...],
        clip: float | None = None,
    ) -> dict[str, float]:
        """A resumable training loop (checkpoint every 200 updates) with CSV + TensorBoard logs."""
        from tensorboardX import SummaryWriter

        model.to(self.device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        ckpt, step = self.dir / f"{name}.ckpt", 0
        if ckpt.exists():
            state = _load(ckpt)
            model.load_state_dict(state["weights"])
            opt.load_state_dict(state["optimizer"])
            step = int(state["step"])
        log = CsvLog(self.dir / f"{name}_log.csv", ("update",) + columns, step, step_key="update")
        tb = SummaryWriter(str(self.dir / "tensorboard" / name), purge_step=step)
        bar = progress_bar(
            total=steps, initial=step, desc=f"train {name}", unit="upd", disable=not self.progress
        )
        parts: dict[str, float] = {}
        torch.manual_seed(self.cfg.seed + step)
        while step < steps:
            for batch in batches(step):
                _, parts = self._update(model, opt, loss, batch, clip)
                step += 1
                bar.update()
                if step % 50 == 0 or step == steps:
                    log.write({"update": step, **parts})
                    for k, v in parts.items():
                        tb.add_scalar(f"{name}/{k}", v, step)
                    bar.set_postfix(loss=f"{parts['loss']:.3g}")
                if step % 200 == 0 or step == steps:
                    log.flush()
                    _save(
                        {
                            "weights": model.state_dict(),
                            "optimizer": opt.state_dict(),
                            "step": step,
                        },
                        ckpt,
                    )
                if step >= steps:
                    break
        bar.close()
        log.close()
        tb.close()
        return parts

    @staticmethod
    def _update(
        model: torch.nn.Module, opt: torch.optim.Optimizer, loss: Callable[[Any], Any], batch: Any,
        clip: float | None,
    ) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
        value, parts = loss(batch)
        opt.zero_grad(set_to_none=True)
        value.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return value, parts

    def train_v(self) -> dict[str, Any]:
        from dynaworld.models.vae import ConvVAE

        if (self.dir / "vae.pt").exists():
            return {"skipped": True}
        vc, files = self.cfg.vae, self._files()
        train_files = files[:-1] if len(files) > 1 else files  # the last rollout is held out
        frames = sum(wmdata.rollout_steps(f) + 1 for f in train_files)
        steps = max(1, math.ceil(vc.epochs * frames / vc.batch_size))
        v = ConvVAE(vc.z_dim)

        def batches(step: int) -> Iterable[torch.Tensor]:
            rng = np.random.default_rng([self.cfg.seed, step])
            for b in wmdata.frame_batches(train_files, vc.batch_size, vc.buffer_rollouts, rng):
                yield torch.from_numpy(b).to(self.device)

        parts = self._train(
            "vae",
            v,
            vc.lr,
            steps,
            batches,
            lambda b: v.loss(b, vc.kl_tolerance),
            ("loss", "recon", "kl"),
        )
        _save({"z_dim": vc.z_dim, "weights": v.cpu().state_dict()}, self.dir / "vae.pt")
        from dynaworld.worldmodels.figures import recon_grid

        recon_grid(v, wmdata.load_npz(files[-1])["frames"], self.dir / "vae_recon.png")
        return {"updates": steps, **parts}

    def v(self) -> Any:
        """The trained V (ConvVAE) on the run's device."""
        from dynaworld.worldmodels.rollout import load_v

        return load_v(self.dir / "vae.pt", str(self.device))

    def encode(self) -> dict[str, Any]:
        out = self.dir / "encoded"
        out.mkdir(exist_ok=True)
        files = self._files()
        todo = [f for f in files if not (out / f.name).exists()]
        if not todo:
            return {"skipped": True}
        v = self.v()
        for f in progress_bar(
            iterable=todo, desc="encode", unit="rollout", disable=not self.progress
        ):
            r = wmdata.load_npz(f)
            mus, logvars = [], []
            with torch.no_grad():
                for b in range(0, len(r["frames"]), 500):
                    mu, logvar = v.encode(
                        torch.from_numpy(r["frames"][b : b + 500]).to(self.device)
                    )
                    mus.append(mu.cpu().numpy())
                    logvars.append(logvar.cpu().numpy())
            wmdata.write_npz(
                out / f.name, mu=np.concatenate(mus), logvar=np.concatenate(logvars),
                actions=r["actions"], rewards=r["rewards"], terminated=r["terminated"],
            )  # fmt: skip
        return {"encoded": len(todo)}

    def encoded_files(self) -> list[Path]:
        files = wmdata.rollout_files(self.dir / "encoded")
        if not files:
            raise DynaworldError(f"{self.dir}/encoded is empty: run the 'encode' stage first")
        return files

    def train_m(self) -> dict[str, Any]:
        from dynaworld.models.mdnrnn import MDNRNN

        if (self.dir / "mdn.pt").exists():
            return {"skipped": True}
        mc, files = self.cfg.mdn, self.encoded_files()
        first = wmdata.load_npz(files[0])
        shape = {
            "z_dim": int(first["mu"].shape[1]), "action_dim": int(first["actions"].shape[1]),
            "hidden": mc.hidden, "gaussians": mc.gaussians,
            "reward_head": mc.reward_head, "done_head": mc.done_head,
        }  # fmt: skip
        m = MDNRNN(**shape)  # type: ignore[arg-type]

        def batches(step: int) -> Iterable[dict[str, torch.Tensor]]:
            rng = np.random.default_rng([self.cfg.seed, step, 1])
            for b in wmdata.sequence_batches(files, mc.seq_len, mc.batch_size, 64, rng):
                yield {k: torch.from_numpy(x).to(self.device) for k, x in b.items()}

        columns = ("loss", "z_nll", "reward_mse", "done_bce")
        parts = self._train(
            "mdn",
            m,
            mc.lr,
            mc.steps,
            batches,
            lambda b: m.loss(b, mc.done_weight),
            columns,
            mc.grad_clip,
        )
        _save({"shape": shape, "weights": m.cpu().state_dict()}, self.dir / "mdn.pt")
        return {"updates": mc.steps, **parts}

    # ------------------------------------------------------------------ C
    def dream_env(self, num_envs: int = 1, seed: int = 0) -> Any:
        from dynaworld.models.dream import DreamEnv
        from dynaworld.worldmodels.rollout import load_m

        m = load_m(self.dir / "mdn.pt", str(self.device))
        starts = [wmdata.load_npz(f) for f in self.encoded_files()[:1000]]
        start = np.stack([np.stack([r["mu"][0], r["logvar"][0]]) for r in starts])
        return DreamEnv(
            m, start, num_envs, temperature=self.cfg.es.temperature, observe=self.observe,
            reward="head" if m.reward is not None else "survival",
            done=self.cfg.es.dream_done if m.done is not None else "never",
            max_steps=self.cfg.es.max_steps or (2100 if self.doom else 1000),
            action_space=ACTION_SPACES[self.cfg.env.id], device=self.device, seed=seed,
        )  # fmt: skip

    def _controller(self) -> Any:
        from dynaworld.worldmodels.rollout import controller_for

        s = self.spec
        z_dim = int(_load(self.dir / "vae.pt")["z_dim"])
        hidden = _load(self.dir / "mdn.pt")["shape"]["hidden"] if s["observe"] != "z" else 0
        return controller_for(s["observe"], z_dim, hidden, s["head"], s["hidden"])

    def env_kw(self, training: bool) -> dict[str, Any]:
        """make_wm_env's arguments; final evaluation (training=False) always uses Gymnasium."""
        e = self.cfg.env
        return {
            "env_id": e.id, "size": e.size, "max_episode_steps": e.max_episode_steps,
            "backend": e.backend if training else "gymnasium", "doom_skill": e.doom_skill,
        }  # fmt: skip

    def real_returns(
        self,
        pool: Pool,
        params: np.ndarray,
        seeds: list[list[int]],
        max_steps: int | None,
        training: bool = False,
    ) -> list[list[float]]:
        """Returns of params[i] on seeds[i], one task per candidate, in parallel."""
        from dynaworld.worldmodels.rollout import episodes_task

        futures = [
            pool.submit(
                episodes_task,
                str(self.dir),
                self.env_kw(training),
                self.spec,
                p,
                s,
                max_steps,
            )
            for p, s in zip(params, seeds, strict=True)
        ]
        return [f.result() for f in futures]

    def train_c(self) -> dict[str, Any]:
        from dynaworld.agents.cmaes import evolve
        from dynaworld.models.dream import dream_returns

        es = self.cfg.es
        folder = self.c_dir
        folder.mkdir(exist_ok=True)
        save_config(self.cfg, folder / "config.yaml")
        c = self._controller()
        if es.where == "dream":
            env = self.dream_env(seed=self.cfg.seed)
            steps = env.max_steps

            def fitness(params: np.ndarray, g: int) -> np.ndarray:
                p = torch.as_tensor(params, dtype=torch.float32, device=self.device)
                return dream_returns(env, c, p, es.rollouts, steps).cpu().numpy()

            def evaluate(mean: np.ndarray) -> np.ndarray:
                p = torch.as_tensor(mean[None], dtype=torch.float32, device=self.device)
                return (
                    dream_returns(env, c, p, es.eval_rollouts, steps, mean=False)[0].cpu().numpy()
                )

            state = evolve(folder, c.n_params, fitness, evaluate, **self._es_args())
            return {"generations": state["generation"], "best_eval": state["best_eval"]}
        pool = self._pool(es.workers)
        try:

            def fitness(params: np.ndarray, g: int) -> np.ndarray:
                seeds = [g * 10_000 + j for j in range(es.rollouts)]  # common to all candidates
                return np.array(
                    [
                        np.mean(r)
                        for r in self.real_returns(
                            pool, params, [seeds] * len(params), es.max_steps, True
                        )
                    ]
                )

            def evaluate(mean: np.ndarray) -> np.ndarray:
                chunks = np.array_split(np.arange(es.eval_rollouts) + EVAL_SEED // 2, es.workers)
                out = self.real_returns(
                    pool,
                    np.stack([mean] * len(chunks)),
                    [list(map(int, ch)) for ch in chunks],
                    None,
                    True,
                )
                return np.concatenate(out)

            state = evolve(folder, c.n_params, fitness, evaluate, **self._es_args())
        finally:
            pool.shutdown()
        return {"generations": state["generation"], "best_eval": state["best_eval"]}

    def _es_args(self) -> dict[str, Any]:
        es = self.cfg.es
        return {
            "generations": es.generations, "popsize": es.popsize, "sigma0": es.sigma0,
            "eval_every": es.eval_every, "l2": es.l2, "seed": self.cfg.seed,
            "diagonal": es.diagonal, "progress": self.progress,
        }  # fmt: skip

    def real_frames(
        self, params: np.ndarray, seed: int, max_steps: int | None = None
    ) -> list[np.ndarray]:
        """The frames of one real (Gymnasium) episode of C with ``params`` (for GIFs)."""
        from dynaworld.worldmodels.rollout import load_run, play

        run = load_run(self.dir, self.env_kw(training=False))
        frames: list[np.ndarray] = []
        try:
            play(run, self.spec, params, [seed], max_steps, frames)
        finally:
            run[2].close()
        return frames

    def evaluate(self, episodes: int | None = None) -> dict[str, Any]:
        """The controller's params on real episodes (and, if dream-trained, in the dream too)."""
        from dynaworld.models.dream import dream_returns

        n = episodes or self.cfg.eval_episodes
        folder = self.c_dir
        if not (folder / "params.npy").exists():
            raise DynaworldError(f"{folder} has no params.npy: run the 'train_c' stage first")
        params = np.load(folder / "params.npy")
        workers = max(1, min(self.cfg.es.workers, n))
        chunks = [list(map(int, ch)) for ch in np.array_split(np.arange(n) + EVAL_SEED, workers)]
        pool = self._pool(workers)
        try:
            returns = np.concatenate(
                self.real_returns(pool, np.stack([params] * workers), chunks, None)
            )
        finally:
            pool.shutdown()
        out: dict[str, Any] = {
            "variant": self.cfg.controller.variant, "where": self.cfg.es.where,
            "episodes": int(n), "mean": float(returns.mean()), "std": float(returns.std()),
            "returns": returns.round(2).tolist(),
        }  # fmt: skip
        if self.cfg.es.where == "dream":
            env = self.dream_env(seed=EVAL_SEED)
            p = torch.as_tensor(params[None], dtype=torch.float32, device=self.device)
            c = self._controller()
            virtual = dream_returns(env, c, p, n, env.max_steps, mean=False)[0].cpu().numpy()
            out.update(
                temperature=self.cfg.es.temperature, dream_done=self.cfg.es.dream_done,
                virtual_mean=float(virtual.mean()),
                virtual_std=float(virtual.std()), exploitation_gap=float(virtual.mean() - returns.mean()),
            )  # fmt: skip
        write_json(folder / "eval.json", out)
        return {k: v for k, v in out.items() if k != "returns"}

    def evaluate_random(self, episodes: int | None = None) -> dict[str, Any]:
        from dynaworld.worldmodels.rollout import random_task

        n = episodes or self.cfg.eval_episodes
        workers = max(1, min(self.cfg.es.workers, n))
        pool = self._pool(workers)
        try:
            chunks = [list(map(int, c)) for c in np.array_split(np.arange(n) + EVAL_SEED, workers)]
            futures = [pool.submit(random_task, self.env_kw(False), c) for c in chunks]
            returns = np.concatenate([f.result() for f in futures])
        finally:
            pool.shutdown()
        out = {"variant": "random", "episodes": n, "mean": float(returns.mean()),
               "std": float(returns.std()), "returns": returns.round(2).tolist()}  # fmt: skip
        write_json(self.dir / "random_eval.json", out)
        return {k: v for k, v in out.items() if k != "returns"}


def load_run_config(run_dir: str | Path, overrides: Iterable[str] = ()) -> WorldModelsConfig:
    from dynaworld.config import merge, parse_overrides

    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise DynaworldError(f"{run_dir} is not a World Models run directory (no config.yaml)")
    cfg = from_dict(WorldModelsConfig, merge(load_yaml(path), parse_overrides(overrides)))
    cfg.validate()
    return cfg
