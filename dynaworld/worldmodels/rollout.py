"""Real-environment rollouts of V + M + C, as worker tasks (process pool or Ray, one code path).

A worker process loads V and M from the run directory once and keeps them (and its env) in a
module-level cache, so a CMA-ES generation only ships parameter vectors and seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld.agents.controller import Controller
from dynaworld.checkpoint import load_file
from dynaworld.envs.worldmodels import make_wm_env
from dynaworld.models.mdnrnn import MDNRNN, features
from dynaworld.models.vae import ConvVAE

_cache: dict[Any, Any] = {}


def load_v(path: str | Path, device: str = "cpu") -> ConvVAE:
    state = load_file(path, "V (VAE) file")
    v = ConvVAE(state["z_dim"])
    v.load_state_dict(state["weights"])
    return v.to(device).eval()


def load_m(path: str | Path, device: str = "cpu") -> MDNRNN:
    state = load_file(path, "M (MDN-RNN) file")
    m = MDNRNN(**state["shape"])
    m.load_state_dict(state["weights"])
    return m.to(device).eval()


def controller_for(observe: str, z_dim: int, hidden_m: int, head: str, hidden_c: int) -> Controller:
    width = {"z": z_dim, "zh": z_dim + hidden_m, "zch": z_dim + 2 * hidden_m}[observe]
    return Controller(width, head, hidden_c)


@torch.no_grad()
def real_episode(
    env: Any,
    v: ConvVAE,
    m: MDNRNN | None,
    controller: Controller,
    params: np.ndarray,
    observe: str,
    seed: int,
    max_steps: int | None = None,
    frames: list[np.ndarray] | None = None,
) -> float:
    """One real episode of C acting on V's z (and M's state); returns the raw score.

    With ``frames``, every observed (64, 64, 3) uint8 frame is appended to it (for GIFs)."""
    p = torch.as_tensor(params, dtype=torch.float32)[None]
    frame, _ = env.reset(seed=seed)
    state = m.initial_state(1) if m is not None else None
    total, t = 0.0, 0
    while True:
        if frames is not None:
            frames.append(frame)
        z = v.encode(torch.from_numpy(frame)[None])[0]
        x = features(z, state, observe) if state is not None else z
        a = controller.act(p, x[None])[0, 0]
        if m is not None and state is not None:
            state = m.advance(z, controller.action_vector(a[None], m.action_dim), state)
        action = a.numpy() if controller.head == "car" else int(a)
        frame, r, terminated, truncated, _ = env.step(action)
        total += float(r)
        t += 1
        if terminated or truncated or (max_steps is not None and t >= max_steps):
            return total


def load_run(run_dir: str | Path, env_kw: dict[str, Any]) -> tuple[ConvVAE, MDNRNN | None, Any]:
    """V, M (None before M is trained) and a real env (``make_wm_env(**env_kw)``) of a run."""
    v = load_v(Path(run_dir) / "vae.pt")
    m_path = Path(run_dir) / "mdn.pt"
    return v, load_m(m_path) if m_path.exists() else None, make_wm_env(**env_kw)


def play(
    run: tuple[ConvVAE, MDNRNN | None, Any],
    spec: dict[str, Any],
    params: np.ndarray,
    seeds: list[int],
    max_steps: int | None,
    frames: list[np.ndarray] | None = None,
) -> list[float]:
    """Real episodes of the controller ``spec`` with ``params`` on a loaded run, one per seed."""
    v, m, env = run
    c = controller_for(spec["observe"], v.z_dim, m.hidden if m else 0, spec["head"], spec["hidden"])
    m_used = m if spec["observe"] != "z" else None
    return [
        real_episode(env, v, m_used, c, params, spec["observe"], s, max_steps, frames)
        for s in seeds
    ]


def episodes_task(
    run_dir: str,
    env_kw: dict[str, Any],
    spec: dict[str, Any],
    params: np.ndarray,
    seeds: list[int],
    max_steps: int | None,
) -> list[float]:
    """Worker task: returns of ``params`` on ``seeds`` (V, M and the env cached per process).

    ``env_kw`` are ``make_wm_env``'s arguments (env_id, size, max_episode_steps, backend)."""
    torch.set_num_threads(1)
    key = (run_dir, tuple(sorted(env_kw.items())))
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_run(run_dir, env_kw)
    return play(_cache[key], spec, params, seeds, max_steps)


def random_task(env_kw: dict[str, Any], seeds: list[int]) -> list[float]:
    """Worker task: returns of the uniform random policy (the tables' 'random' row)."""
    env = make_wm_env(**env_kw)
    out = []
    for s in seeds:
        env.reset(seed=s)
        env.action_space.seed(s)
        total, done = 0.0, False
        while not done:
            _, r, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(r)
            done = terminated or truncated
        out.append(total)
    return out
