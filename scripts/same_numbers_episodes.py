"""Same numbers before and after a change to how real episodes are played (issue 40).

Plays short seeded episodes through every public entry point that steps a real environment
outside the training loop — DQN evaluation, the GIF recorder, World Models' real episodes, its
controller rollouts with exploration, random and reference-policy data collection, the random
policy's returns, a CMA-ES generation on envpool's CarRacing (scores to 4 decimals), the Doom
parity policies (on MinAtar Breakout: VizDoom is not installed here,
and both have three actions) — and prints one JSON of returns and file hashes. Run it from two
checkouts and compare the files:

    python scripts/same_numbers_episodes.py > after.json   # (and from the old checkout: before.json)
    cmp before.json after.json
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import dynaworld
from dynaworld.checkpoint import save_file
from dynaworld.envs import make_env
from dynaworld.envs.worldmodels import CARRACING
from dynaworld.evaluate import evaluate
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.models.vae import ConvVAE
from dynaworld.studies.worldmodels import parity
from dynaworld.worldmodels import data, rollout
from dynaworld.worldmodels.data import SHORT_HOLDS, Hold


def digest(path: Path) -> str:
    arrays = np.load(path)
    h = hashlib.sha256()
    for k in sorted(arrays.files):
        h.update(k.encode() + arrays[k].tobytes())
    return h.hexdigest()[:16]


def digest_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def controller_rollout(tmp: Path, env_kw: dict, spec: dict, params, seed: int, path: str) -> dict:
    """C's rollout with exploration (ε 0.3, long holds): one worker task, old or new API."""
    hold, v, m = Hold(5, 0.2, 20), str(tmp / "vae.pt"), str(tmp / "m.pt")
    if hasattr(rollout, "controller_rollout_task"):  # before session 28
        return rollout.controller_rollout_task(
            v, m, env_kw, spec, params, seed, path, 40, 0.3, hold
        )
    acting = rollout.ControllerActing(v, m, spec, params, 0.3, hold)
    s = rollout.rollout_task(env_kw, acting, seed, path, 40)
    return {k: s[k] for k in ("steps", "return")}


def data_rollout(env_kw: dict, steps: int, policy: str, seed: int, path: str, *rest: int) -> dict:
    """A data-policy rollout (random or reference), one worker task, old or new API."""
    if hasattr(data, "collect_one"):  # before session 28
        return data.collect_one(env_kw, steps, policy, SHORT_HOLDS, seed, path, *rest)
    return rollout.rollout_task(
        env_kw, rollout.DataActing(policy, SHORT_HOLDS), seed, path, steps, *rest
    )


def dqn_evaluation(out: dict, tmp: Path) -> None:
    for name, game in (("dqn_cartpole", "CartPole-v1"), ("dqn_minatar_breakout", "MinAtar/Breakout-v1")):  # fmt: skip
        run = dynaworld.train(name, tmp / name, total_steps=300, eval_every=0,
                              final_eval_episodes=1, progress=False,
                              replay__learning_starts=100)  # fmt: skip
        r = evaluate(run.agent, run.config.env, 11, 0.3, seed=7, parallel=4, max_steps=60)
        out[f"evaluate {game}"] = [round(float(x), 6) for x in r]
        gif = run.record(tmp / f"{name}.gif", episodes=2)
        out[f"record_gif {game}"] = [
            gif["returns"],
            gif["frames"],
            digest_file(tmp / f"{name}.gif"),
        ]


def world_models(out: dict, tmp: Path) -> None:
    torch.manual_seed(0)
    v, m = ConvVAE(8), MDNRNN(8, 3, hidden=16, gaussians=2)
    save_file({"z_dim": 8, "weights": v.state_dict()}, tmp / "vae.pt")
    save_file({"shape": {"z_dim": 8, "action_dim": 3, "hidden": 16, "gaussians": 2},
               "weights": m.state_dict()}, tmp / "m.pt")  # fmt: skip
    env_kw = dict(env_id=CARRACING, size=64, max_episode_steps=None, backend="gymnasium")
    for observe in ("z", "zh"):
        spec = {"observe": observe, "head": "car", "hidden": 0}
        c = rollout.spec_controller(spec, 8, 16 if observe != "z" else 0)
        params = np.random.default_rng(1).normal(0, 0.5, c.n_params)
        run = rollout.load_run(tmp / "vae.pt", tmp / "m.pt", env_kw)
        frames: list = []
        out[f"play {observe}"] = rollout.play(run, spec, params, [3, 4], 40, frames)
        out[f"play {observe} frames"] = hashlib.sha256(np.stack(frames).tobytes()).hexdigest()[:16]
        s = controller_rollout(tmp, env_kw, spec, params, 5, str(tmp / f"c_{observe}.npz"))
        out[f"controller_rollout {observe}"] = [s, digest(tmp / f"c_{observe}.npz")]
    for policy in ("random", "reference"):
        s = data_rollout(env_kw, 40, policy, 9, str(tmp / f"{policy}.npz"), 0)
        out[f"collect {policy}"] = [s, digest(tmp / f"{policy}.npz")]
    s = data_rollout(env_kw, 30, "random", 9, str(tmp / "short.npz"), 29, 100)
    out["collect min_steps"] = [s, digest(tmp / "short.npz")]
    kw = dict(env_kw, max_episode_steps=30)
    out["random_task"] = rollout.random_task(kw, [1, 2])


def generation(out: dict, tmp: Path) -> None:
    """A CMA-ES generation on envpool's CarRacing, batched (``control.population_scores``)."""
    from dynaworld.config import load_config
    from dynaworld.worldmodels import control
    from dynaworld.worldmodels.config import WorldModelsConfig
    from dynaworld.worldmodels.run import WorldModelsRun

    sets = ["env.backend=envpool", "vae.z_dim=8", "mdn.hidden=16", "mdn.gaussians=2"]
    run = WorldModelsRun(load_config(None, sets, WorldModelsConfig), tmp / "generation")
    run.m_path(1).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp / "vae.pt", run.dir / "vae.pt")
    shutil.copy(tmp / "m.pt", run.m_path(1))
    params = np.random.default_rng(2).normal(0, 0.5, (3, control.controller(run).n_params))
    scores = control.population_scores(run, 1)(params, 500, 2, 40)
    out["generation envpool"] = np.round(scores, 4).tolist()


def doom_parity(out: dict) -> None:
    parity.make_wm_env = lambda *a, **k: make_env("MinAtar/Breakout-v1", train=False)
    for policy in parity.POLICIES:
        out[f"parity {policy}"] = parity.survival(None, policy, 3, seed=11).tolist()


def main() -> int:
    out: dict = {}
    with tempfile.TemporaryDirectory() as t, contextlib.redirect_stdout(sys.stderr):
        dqn_evaluation(out, Path(t))
        world_models(out, Path(t))
        generation(out, Path(t))
    doom_parity(out)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
