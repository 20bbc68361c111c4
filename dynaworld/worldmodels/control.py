"""C of World Models: its planning steps (CMA-ES generations scored in the dream or on E) and its
evaluation on the real environment."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld.agents.cmaes import CMAES, generations_made
from dynaworld.agents.controller import Controller
from dynaworld.envs.envpool_carracing import CarRacingGroups
from dynaworld.envs.frames import CARRACING
from dynaworld.envs.worldmodels import ACTION_SPACES
from dynaworld.episodes import play_episodes
from dynaworld.errors import DynaworldError
from dynaworld.loop import Fitness
from dynaworld.models.dream import DreamEnv, dream_returns
from dynaworld.parallel import Pool, gather
from dynaworld.runlog import write_json
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.fit import encoded_files
from dynaworld.worldmodels.rollout import (
    WorldModelsPolicy,
    episodes_task,
    load_m,
    load_run,
    load_v,
    play,
    random_task,
    spec_controller,
)
from dynaworld.worldmodels.run import (
    EVAL_BLOCKS,
    EVAL_SEED,
    WorldModelsRun,
    eval_file,
    fitness_track,
    params_digest,
)


def controller(run: WorldModelsRun) -> Controller:
    s = run.spec
    z_dim = int(run.load(run.dir / "vae.pt", "train V first")["z_dim"])
    hidden = run.cfg.mdn.hidden if s["observe"] != "z" else 0
    return spec_controller(s, z_dim, hidden)


def dream_env(run: WorldModelsRun, k: int = 1, num_envs: int = 1, seed: int = 0) -> DreamEnv:
    """M_k as a batched environment, its dreams starting from real first frames."""
    m = load_m(run.m_path(k), str(run.device))
    starts = [wmdata.load_npz(f) for f in encoded_files(run, k)[:1000]]
    start = np.stack([np.stack([r["mu"][0], r["logvar"][0]]) for r in starts])
    es = run.cfg.es
    if m.reward is None and not run.doom:  # Doom's score is survival; elsewhere say so
        print(f"dynaworld: warning: M ({run.m_path(k)}) has no reward head: the dream's reward is "
              "+1 per step alive, not the game's (train M with mdn.reward_head=true)",
              file=sys.stderr, flush=True)  # fmt: skip
    return DreamEnv(
        m,
        start,
        num_envs,
        temperature=es.temperature,
        observe=run.observe,
        reward="head" if m.reward is not None else "survival",
        done=es.dream_done if m.done is not None else "never",
        max_steps=es.max_steps or (2100 if run.doom else 1000),
        action_space=ACTION_SPACES[run.cfg.env.id],
        device=run.device,
        seed=seed,
    )


def real_returns(
    run: WorldModelsRun,
    pool: Pool,
    k: int,
    params: np.ndarray,
    seeds: list[list[int]],
    max_steps: int | None,
    training: bool = False,
    desc: str | None = None,
) -> list[list[float]]:
    """Returns of params[i] on seeds[i] in the real env, one task per candidate, in parallel
    (``desc``: a progress bar of that name over the tasks)."""
    m = str(run.m_path(k)) if run.observe != "z" else None
    futures = [
        pool.submit(
            episodes_task,
            str(run.dir / "vae.pt"),
            m,
            run.env_kw(training),
            run.spec,
            p,
            s,
            max_steps,
        )
        for p, s in zip(params, seeds, strict=True)
    ]
    if desc is not None:
        gather(futures, desc=desc, unit="episode")
    return [f.result() for f in futures]


def batched(run: WorldModelsRun) -> bool:
    """Real CMA-ES rollouts step a whole generation in lock-step in this process (envpool's
    CarRacing); otherwise one task per candidate goes to the worker pool."""
    return run.cfg.env.id == CARRACING and run.cfg.env.backend == "envpool"


def population_scores(run: WorldModelsRun, k: int) -> Callable[..., np.ndarray]:
    """scores(params (P, n), seed, rollouts, max_steps) -> raw scores (P, rollouts): every
    candidate on the tracks seed .. seed + rollouts - 1 (``CarRacingGroups``), V + M_k + C
    batched over all P x rollouts episodes. The same numbers as ``real_returns`` on envpool."""
    v = load_v(run.dir / "vae.pt", str(run.device))
    m = load_m(run.m_path(k), str(run.device)) if run.observe != "z" else None
    c, e, space = controller(run), run.cfg.env, ACTION_SPACES[CARRACING]

    def scores(params: np.ndarray, seed: int, rollouts: int, max_steps: int | None) -> np.ndarray:
        env = CarRacingGroups(len(params), rollouts, seed, e.size, e.max_episode_steps)
        pi = WorldModelsPolicy(v, m, c, params, run.observe, space, per_candidate=rollouts)
        seeds = [seed + j for _ in params for j in range(rollouts)]
        out = np.zeros(len(seeds))
        try:
            play_episodes(env, pi, seeds, max_steps, on_end=out.__setitem__)
        finally:
            env.close()
        return out.reshape(len(params), rollouts)

    return scores


def start(run: WorldModelsRun, k: int) -> Path | None:
    """The params.npy C_k's CMA-ES starts from: C_(k-1) of this C's settings (the iterative
    procedure), else C_(k-1) of one model (more dream models, trained at iteration k by
    ``experiment --iteration k``). A CMA-ES repeat (es.seed N) starts where its seed-0 C does.
    None (zero weights) at k = 1, with es.start=zero, or when no C_(k-1) has this temperature
    and death rule. es.start naming a C folder: that C's params.npy, at any k."""
    named = run.named_start()
    if named is not None:
        return named
    if k == 1 or run.cfg.es.start == "zero":
        return None
    found = [run.c_dir(k - 1, m, 0) / "params.npy" for m in (run.cfg.es.dream_models, 1)]
    return next((path for path in found if path.exists()), None)


def checked_start(run: WorldModelsRun, k: int, n_params: int) -> Path | None:
    """``start(run, k)``, refused when its C has another number of parameters than this C."""
    first = start(run, k)
    if first is not None and np.load(first).shape != (n_params,):
        raise DynaworldError(
            f"es.start: {first} holds {np.load(first).shape[0]} parameters, this C "
            f"({run.cfg.controller.variant}) has {n_params}: start from a C of the same variant"
        )
    return first


def record_start(run: WorldModelsRun, folder: Path, first: Path | None) -> np.ndarray | None:
    """``first``'s weights, named with their digest in ``folder/start.json`` when this CMA-ES
    begins (a resumed one keeps its record)."""
    if not (folder / "es.pt").exists():
        source = str(first.parent.relative_to(run.dir)) if first else None
        digest = params_digest(first.parent) if first else None
        write_json(folder / "start.json", {"from": source, "params_sha256": digest})
    return np.load(first) if first else None


def agent(run: WorldModelsRun, k: int, pool: Callable[[], Pool]) -> tuple[CMAES, Fitness, Callable[[], None]]:  # fmt: skip
    """C_k's CMA-ES (starting at ``start(run, k)``, recorded), its fitness and a closer."""
    es, c = run.cfg.es, controller(run)
    first, folder = checked_start(run, k, c.n_params), run.claim_c(k)  # refused before claimed
    tracks = es.seed * 1_000  # generation g's rollout j: track fitness_track(g, tracks) + j
    workers: Pool | None = None
    if es.where == "dream":  # M_k's dream, or the last es.dream_models models' (the lowest)
        seed = run.cfg.seed + 1_000 * es.seed + k - 1
        envs = [dream_env(run, j, seed=seed) for j in range(max(1, k - es.dream_models + 1), k + 1)]

        def fitness(params: np.ndarray, g: int) -> np.ndarray:
            p = torch.as_tensor(params, dtype=torch.float32, device=run.device)
            returns = [dream_returns(e, c, p, es.rollouts_at(g), e.max_steps).cpu() for e in envs]
            return torch.stack(returns).min(0).values.numpy()

        def evaluate(mean: np.ndarray) -> np.ndarray:
            p = torch.as_tensor(mean[None], dtype=torch.float32, device=run.device)
            scores = [
                dream_returns(e, c, p, es.eval_rollouts, e.max_steps, mean=False)[0].cpu().numpy()
                for e in envs
            ]
            return min(scores, key=np.mean)
    elif batched(run):
        scores = population_scores(run, k)

        def fitness(params: np.ndarray, g: int) -> np.ndarray:
            return scores(params, fitness_track(g, tracks), es.rollouts_at(g), es.max_steps).mean(1)

        def evaluate(mean: np.ndarray) -> np.ndarray:
            return scores(mean[None], EVAL_SEED // 2, es.eval_rollouts, None)[0]
    else:
        workers = pool()

        def fitness(params: np.ndarray, g: int) -> np.ndarray:
            seeds = list(range(first := fitness_track(g, tracks), first + es.rollouts_at(g)))
            out = real_returns(run, workers, k, params, [seeds] * len(params), es.max_steps, True)
            return np.array([np.mean(r) for r in out])

        def evaluate(mean: np.ndarray) -> np.ndarray:
            chunks = np.array_split(np.arange(es.eval_rollouts) + EVAL_SEED // 2, es.workers)
            seeds = [list(map(int, ch)) for ch in chunks]
            return np.concatenate(
                real_returns(run, workers, k, np.stack([mean] * len(chunks)), seeds, None, True)
            )

    cma = CMAES(
        folder,
        c.n_params,
        evaluate,
        popsize=es.popsize,
        sigma0=es.sigma0,
        eval_every=es.eval_every,
        last=es.generations,
        l2=es.l2,
        seed=run.cfg.seed + 1_000 * es.seed + k - 1,
        diagonal=es.diagonal,
        x0=record_start(run, folder, first),
    )

    def close() -> None:
        cma.close()
        if workers is not None:
            workers.shutdown()

    return cma, fitness, close


def _chunks(n: int, workers: int, base: int = EVAL_SEED) -> list[list[int]]:
    return [list(map(int, ch)) for ch in np.array_split(np.arange(n) + base, workers)]


def workers_for(run: WorldModelsRun, episodes: int) -> int:
    return max(1, min(run.cfg.es.workers, episodes))


def evaluate(
    run: WorldModelsRun, pool: Pool, k: int, episodes: int, block: str = "validation"
) -> dict[str, Any]:
    """C_k's best parameters on real episodes of seed ``block`` (``EVAL_BLOCKS``; and, if
    dream-trained, in the dream too) -> its eval.json / eval_test.json."""
    folder, base = run.c_dir(k), block_seed(block)
    if not (folder / "params.npy").exists():
        raise DynaworldError(f"{folder} has no params.npy: run the 'train_c' stage first")
    params = np.load(folder / "params.npy")
    chunks = [[base + i] for i in range(episodes)]  # one task per episode: a live bar
    what = f"evaluate C_{k} {run.c_dir(k).name}"
    returns = np.concatenate(
        real_returns(run, pool, k, np.stack([params] * len(chunks)), chunks, None, desc=what)
    )
    es, trained = run.cfg.es, generations_made(folder)
    out: dict[str, Any] = {
        "variant": run.cfg.controller.variant,
        "where": es.where,
        "iteration": k,
        "params_sha256": params_digest(folder),  # which C this is (reports flag a stale one)
        "es_seed": es.seed,
        "start": "zero" if k == 1 else es.start,
        "budget": {"popsize": es.popsize, "rollouts": es.rollouts, "generations": trained}
        | ({"rollouts_from": es.rollouts_from} if es.rollouts_from else {}),
        "episodes": int(episodes),
        "block": block,
        "seeds": f"{base} + episode",
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "returns": returns.round(2).tolist(),
    }
    if es.where == "dream":
        env = dream_env(run, k, seed=base)
        p = torch.as_tensor(params[None], dtype=torch.float32, device=run.device)
        virtual = (
            dream_returns(env, controller(run), p, episodes, env.max_steps, mean=False)[0]
            .cpu()
            .numpy()
        )
        out.update(
            temperature=es.temperature,
            dream_done=es.dream_done,
            dream_models=es.dream_models,  # trained on the lowest of N models; virtual: M_k's
            virtual_mean=float(virtual.mean()),
            virtual_std=float(virtual.std()),
            exploitation_gap=float(virtual.mean() - returns.mean()),
        )
    write_json(folder / eval_file(block), out)
    return {key: v for key, v in out.items() if key != "returns"}


def block_seed(block: str) -> int:
    if block not in EVAL_BLOCKS:
        raise DynaworldError(f"--seeds {block!r}: one of {', '.join(EVAL_BLOCKS)}")
    return EVAL_BLOCKS[block]


def evaluate_random(
    run: WorldModelsRun, pool: Pool, episodes: int, block: str = "validation"
) -> dict[str, Any]:
    base = block_seed(block)
    futures = [
        pool.submit(random_task, run.env_kw(False), c)
        for c in _chunks(episodes, workers_for(run, episodes), base)
    ]
    returns = np.concatenate([f.result() for f in futures])
    out = {
        "variant": "random",
        "episodes": episodes,
        "block": block,
        "seeds": f"{base} + episode",
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "returns": returns.round(2).tolist(),
    }
    write_json(run.dir / ("random_" + eval_file(block)), out)
    return {key: v for key, v in out.items() if key != "returns"}


def real_frames(
    run: WorldModelsRun, k: int, params: np.ndarray, seed: int, max_steps: int | None = None
) -> list[np.ndarray]:
    """The frames of one real (Gymnasium) episode of C_k with ``params`` (for GIFs)."""
    loaded = load_run(run.dir / "vae.pt", run.m_path(k), run.env_kw(training=False))
    frames: list[np.ndarray] = []
    try:
        play(loaded, run.spec, params, [seed], max_steps, frames)
    finally:
        loaded[2].close()
    return frames
