"""Real-environment rollouts (the data policy's and V + M + C's), as worker tasks (process pool or
Ray, one code path); ``play_rollouts`` is World Models' M real interactions, written to D.

A worker process loads V and M from the run directory once and keeps them (and its env) in a
module-level cache, so a CMA-ES generation only ships parameter vectors and seeds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld.agents.controller import Controller
from dynaworld.checkpoint import load_file
from dynaworld.envs.worldmodels import make_wm_env
from dynaworld.episodes import EpisodePolicy, FramesSeen, PerEpisode, play_episodes
from dynaworld.errors import DynaworldError
from dynaworld.files import write_text
from dynaworld.models.mdnrnn import MDNRNN, action_vector, features
from dynaworld.models.vae import ConvVAE
from dynaworld.parallel import Pool, gather, make_pool
from dynaworld.worldmodels.data import (
    PATTERN,
    SHORT_HOLDS,
    DataPolicy,
    Hold,
    Recorder,
    rollout_files,
    rollout_steps,
)

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


def controller_for(
    observe: str,
    z_dim: int,
    hidden_m: int,
    head: str,
    hidden_c: int,
    bands: tuple[int, ...] = (0, 1, 2),
) -> Controller:
    width = {"z": z_dim, "zh": z_dim + hidden_m, "zch": z_dim + 2 * hidden_m}[observe]
    return Controller(width, head, hidden_c, tuple(bands))


class WorldModelsPolicy:
    """V + M + C as an ``EpisodePolicy``: V encodes each frame to z, C acts on z (and M's state
    h), M advances h with the action taken. Each episode carries M's state and, with ``explore``
    (epsilon, hold), its own generator (seeded by the episode's seed) and held random action:
    each step, with probability epsilon, a random action held ``hold.draw()`` steps replaces C's
    (the exploration of the iterative procedure). ``params``: one C (n,) for every episode, or a
    population (G, n) whose candidate g plays episodes g·R .. g·R + R − 1 (R = ``per_candidate``:
    a CMA-ES generation's rollouts). Runs where V is (CPU or GPU)."""

    def __init__(self, v: ConvVAE, m: MDNRNN | None, controller: Controller, params: Any,
                 observe: str, space: Any, explore: tuple[float, Hold] | None = None,
                 per_candidate: int = 1) -> None:  # fmt: skip
        self.v, self.m, self.c, self.observe, self.space = v, m, controller, observe, space
        self.device = next(v.parameters()).device
        p = torch.as_tensor(params, dtype=torch.float32, device=self.device)
        self.p, self.per_candidate = (p[None] if p.ndim == 1 else p), per_candidate
        self.explore = explore
        self.epsilon = explore[0] if explore is not None else 0.0

    def start(self, seed: int, episode: int) -> tuple[Any, Any, int]:
        state = self.m.initial_state(1, self.device) if self.m is not None else None
        candidate = episode // self.per_candidate if len(self.p) > 1 else 0
        if self.explore is None:
            return state, None, candidate
        rng = np.random.default_rng(seed)
        return state, (rng, DataPolicy(self.space, "random", self.explore[1], rng)), candidate

    @torch.no_grad()
    def act(self, frames: np.ndarray, carry: list[Any]) -> tuple[list[Any], list[Any]]:
        z = self.v.encode(torch.from_numpy(frames).to(self.device))[0]
        states = [s for s, _, _ in carry]
        state = None
        if states[0] is not None:
            state = (torch.cat([h for h, _ in states]), torch.cat([c for _, c in states]))
        x = features(z, state, self.observe) if state is not None else z
        if len(self.p) == 1:
            a = list(self.c.act(self.p, x[None])[0])
        else:  # each episode its candidate's C
            g = torch.tensor([k for _, _, k in carry], device=self.device)
            a = list(self.c.act(self.p[g], x[:, None])[:, 0])
        for i, (_, explorer, _) in enumerate(carry):
            if explorer is None:
                continue
            rng, held = explorer
            if held.left > 0 or rng.random() < self.epsilon:
                a[i] = torch.as_tensor(held(frames[i]), device=self.device)
        if self.m is not None and state is not None:
            state = self.m.next_state(z, action_vector(torch.stack(a), self.space), state)
            states = list(zip(state[0].split(1), state[1].split(1), strict=True))
        actions = [x.cpu().numpy() if self.c.head == "car" else int(x) for x in a]
        return actions, [(s, e, k) for s, (_, e, k) in zip(states, carry, strict=True)]


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
    policy = WorldModelsPolicy(v, m, controller, params, observe, env.action_space)
    seen = FramesSeen()
    score = play_episodes([env], policy, [seed], max_steps, [seen] if frames is not None else [])[0]
    if frames is not None:
        frames.extend(seen.frames)
    return score


def spec_controller(spec: dict[str, Any], z_dim: int, hidden_m: int) -> Controller:
    """The C that a run's ``spec`` (``WorldModelsRun.spec``) describes, for V's z and M's hidden size."""
    return controller_for(
        spec["observe"], z_dim, hidden_m, spec["head"], spec["hidden"], spec.get("bands", (0, 1, 2))
    )


def load_run(
    v_path: str | Path, m_path: str | Path | None, env_kw: dict[str, Any]
) -> tuple[ConvVAE, MDNRNN | None, Any]:
    """V, M (None when ``m_path`` is None or not trained yet) and a real env (``make_wm_env``)."""
    m = load_m(m_path) if m_path is not None and Path(m_path).exists() else None
    return load_v(v_path), m, make_wm_env(**env_kw)


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
    c = spec_controller(spec, v.z_dim, m.hidden if m else 0)
    m_used = m if spec["observe"] != "z" else None
    return [
        real_episode(env, v, m_used, c, params, spec["observe"], s, max_steps, frames)
        for s in seeds
    ]


def _cached(v_path: str, m_path: str | None, env_kw: dict[str, Any]) -> Any:
    torch.set_num_threads(1)
    key = (v_path, m_path, tuple(sorted(env_kw.items())))
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_run(v_path, m_path, env_kw)
    return _cache[key]


def episodes_task(
    v_path: str,
    m_path: str | None,
    env_kw: dict[str, Any],
    spec: dict[str, Any],
    params: np.ndarray,
    seeds: list[int],
    max_steps: int | None,
) -> list[float]:
    """Worker task: returns of ``params`` on ``seeds`` (V, M and the env cached per process).

    ``env_kw`` are ``make_wm_env``'s arguments (env_id, size, max_episode_steps, backend)."""
    return play(_cached(v_path, m_path, env_kw), spec, params, seeds, max_steps)


@dataclass(frozen=True)
class DataActing:
    """Iteration 1's π: random actions held ``hold`` steps ('random'), or the reference's random
    World Model ('reference'), each episode its own generator seeded by the episode's seed."""

    policy: str = "random"
    hold: Hold = SHORT_HOLDS

    def open(self, env_kw: dict[str, Any]) -> tuple[Any, EpisodePolicy, bool]:
        """E (made for this rollout, so closed after it), π and whether to close E."""
        env = make_wm_env(**env_kw)
        rng = np.random.default_rng
        return env, PerEpisode(lambda s: DataPolicy(env.action_space, self.policy, self.hold, rng(s))), True  # fmt: skip


@dataclass(frozen=True)
class ControllerActing:
    """Iteration k > 1's π: V + M_(k-1) + C_(k-1) (``WorldModelsPolicy``), exploring with
    probability ``epsilon`` a step (a random action held ``hold.draw()`` steps)."""

    v_path: str
    m_path: str | None
    spec: dict[str, Any]
    params: np.ndarray
    epsilon: float
    hold: Hold

    def open(self, env_kw: dict[str, Any]) -> tuple[Any, EpisodePolicy, bool]:
        """E, V and M cached in this worker process (kept open), and π."""
        v, m, env = _cached(self.v_path, self.m_path, env_kw)
        m = m if self.spec["observe"] != "z" else None
        c = spec_controller(self.spec, v.z_dim, m.hidden if m else 0)
        explore = (self.epsilon, self.hold)
        return env, WorldModelsPolicy(v, m, c, self.params, self.spec["observe"], env.action_space, explore), False  # fmt: skip


Acting = DataActing | ControllerActing


def rollout_task(
    env_kw: dict[str, Any],
    acting: Acting,
    seed: int,
    path: str,
    max_steps: int,
    min_steps: int = 0,
    reseed: int = 1,
) -> dict[str, float]:
    """Worker task: one real rollout of π (``acting``) written to ``path``. A rollout of at most
    ``min_steps`` actions is dropped and played again with seed ``seed + reseed`` (and so on)."""
    env, policy, close = acting.open(env_kw)
    rollout, dropped = Recorder(env.action_space), 0
    while True:
        play_episodes([env], policy, [seed], max_steps, [rollout])
        if len(rollout.actions) > min_steps or len(rollout.actions) >= max_steps:
            break
        dropped, seed = dropped + 1, seed + reseed
        if dropped >= 1000:
            raise DynaworldError(
                f"1,000 rollouts in a row ended within data.min_steps={min_steps} actions: lower it"
            )
    if close:
        env.close()
    rollout.write(Path(path))
    return {
        "steps": float(len(rollout.actions)),
        "return": float(sum(map(float, rollout.rewards))),
        "dropped": float(dropped),
        "seed": float(seed),
    }


def play_rollouts(
    env_kw: dict[str, Any],
    folder: Path,
    rollouts: int,
    acting: Acting,
    seed: int,
    pool: Callable[[int], Pool],
    *,
    max_steps: int,
    min_steps: int = 0,
    desc: str = "collect",
    progress: bool = True,
) -> list[dict[str, float]]:
    """The rollouts ``folder`` lacks (rollout i: seed ``seed + i``; a short one replayed with
    ``seed + i + rollouts``, ...), each a worker task on ``pool(n)`` (n: the rollouts to play;
    no pool is made when none is missing): M real episodes of π, written to D."""
    folder.mkdir(parents=True, exist_ok=True)
    for tmp in folder.glob(".tmp-*"):
        tmp.unlink()
    todo = [i for i in range(rollouts) if not (folder / PATTERN.format(i)).exists()]
    if not todo:
        return []
    workers = pool(len(todo))
    try:
        futures = [
            workers.submit(
                rollout_task,
                env_kw,
                acting,
                seed + i,
                str(folder / PATTERN.format(i)),
                max_steps,
                min_steps,
                rollouts,
            )  # fmt: skip
            for i in todo
        ]
        return gather(futures, total=rollouts, initial=rollouts - len(todo), desc=desc,
                      unit="rollout", disable=not progress)  # fmt: skip
    finally:
        workers.shutdown()


def collect(
    env_id: str,
    folder: str | Path,
    rollouts: int,
    *,
    size: int = 64,
    max_episode_steps: int | None = None,
    backend: str = "gymnasium",
    max_steps: int = 1000,
    policy: str = "random",
    hold: Hold = SHORT_HOLDS,
    seed: int = 0,
    workers: int = 2,
    ray_address: str | None = None,
    progress: bool = True,
    doom_skill: int | None = None,
    min_steps: int = 0,
) -> dict[str, Any]:
    """Iteration 1's data: the missing random rollouts of ``folder`` in parallel
    (``play_rollouts``); ``meta.json`` marks completion."""
    out = Path(folder)
    env_kw = dict(env_id=env_id, size=size, max_episode_steps=max_episode_steps, backend=backend,
                  doom_skill=doom_skill)  # fmt: skip
    play_rollouts(env_kw, out, rollouts, DataActing(policy, hold), seed,
                  lambda n: make_pool(min(workers, n), ray_address),
                  max_steps=max_steps, min_steps=min_steps, progress=progress)  # fmt: skip
    steps = [rollout_steps(p) for p in rollout_files(out)[:rollouts]]
    meta = {
        "env_id": env_id,
        "rollouts": rollouts,
        "frames": int(sum(steps) + len(steps)),
        "mean_length": float(np.mean(steps)),
        "policy": policy,
        "seed": seed,
        "min_steps": min_steps,
        "doom_skill": doom_skill,
    }
    write_text(out / "meta.json", json.dumps(meta, indent=1))
    return meta


def random_task(env_kw: dict[str, Any], seeds: list[int]) -> list[float]:
    """Worker task: returns of the uniform random policy (the tables' 'random' row), the action
    space seeded with each episode's seed."""
    env = make_wm_env(**env_kw)
    return play_episodes([env], PerEpisode(lambda s: seeded_sampler(env.action_space, s)), seeds)


def seeded_sampler(space: Any, seed: int) -> Any:
    """``space.sample`` of a copy of ``space`` seeded with ``seed`` (an episode's random actions)."""
    own = copy.deepcopy(space)
    own.seed(seed)
    return lambda obs: own.sample()
