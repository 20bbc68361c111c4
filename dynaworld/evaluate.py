"""Evaluation: raw-score episodes of the greedy-ish policy, several environments in lockstep."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynaworld.config import EnvConfig
from dynaworld.envs import make_env


def evaluate(
    agent: Any, env_cfg: EnvConfig, episodes: int, epsilon: float, seed: int, parallel: int = 8
) -> np.ndarray:
    """Returns of ``episodes`` evaluation episodes (unclipped rewards, no life-loss terminals).

    Up to ``parallel`` environments run in lockstep so the agent acts on a batch at a time.
    Episode i is reset with seed ``seed + i``: the same seed gives the same evaluation.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    returns: list[float] = []
    started = 0
    envs = [make_env(env_cfg, train=False) for _ in range(min(parallel, episodes))]
    obs: list[np.ndarray] = []
    for env in envs:
        obs.append(env.reset(seed=seed + started)[0])
        started += 1
    live = list(range(len(envs)))
    while live:
        actions = agent.policy(np.stack([obs[i] for i in live]), epsilon, rng)
        still = []
        for i, a in zip(live, actions, strict=True):
            obs[i], _, term, trunc, info = envs[i].step(int(a))
            if term or trunc:
                returns.append(float(info["episode"]["r"]))
                if started < episodes:
                    obs[i], _ = envs[i].reset(seed=seed + started)
                    started += 1
                    still.append(i)
            else:
                still.append(i)
        live = still
    for env in envs:
        env.close()
    return np.array(returns[:episodes])
