"""Planning throughput: model transitions per second, perfect and learned models, same run.

1. Perfect model on ALE (training preprocessing: frame skip 4, max-pool, 84x84, 4-stack): model
   transitions/s while planning n×k phases from replay start states, against the raw preprocessed
   emulator's steps/s measured in the same process. Target: >= 70%.
2. Learned pixel model: model calls per n×k phase (k, on a batch of n) and transitions/s for
   100×1 and 10×10, on Atari (84x84 stacks) and MinAtar.

    python benchmarks/planning_throughput.py [--game ALE/Pong-v5] [--phases 20]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch

from dynaworld.config import EnvConfig, parse_shape
from dynaworld.envs import is_atari, make_env
from dynaworld.envs.snapshots import EmulatorStates
from dynaworld.models import ReplayWriter
from dynaworld.models.perfect import PerfectModel, replay_sim
from dynaworld.models.pixel import ActionConditionalNet, PixelModel
from dynaworld.planning import RolloutSampler
from dynaworld.replay import ReplayBuffer
from dynaworld.types import Transition


class RandomPolicy:
    """Rollout actions without a network, so the model's own cost is what is measured."""

    def __init__(self, n_actions: int) -> None:
        self.n = n_actions

    def policy(self, obs: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(self.n, size=len(obs))


def fill(cfg: EnvConfig, steps: int, states: bool) -> tuple[ReplayBuffer, Any, float]:
    """Real random play into a replay buffer; returns it, the env and the raw steps/s."""
    env = make_env(cfg, train=True)
    if states:
        env = EmulatorStates(env)
    shape = tuple(env.observation_space.shape or ())
    buf = ReplayBuffer.for_observation(
        shape, np.uint8, steps * 2, stacked=is_atari(cfg.id), sim=states
    )
    model = ReplayWriter(buf, sim=replay_sim if states else None)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    for _ in range(steps):
        a = int(rng.integers(env.action_space.n))
        nxt, r, term, trunc, info = env.step(a)
        model.add(Transition(obs, a, float(r), nxt, bool(term), bool(term or trunc), info))
        obs = env.reset()[0] if term or trunc else nxt
    raw = make_env(cfg, train=True)
    raw.reset(seed=1)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = raw.step(int(rng.integers(raw.action_space.n)))
        if term or trunc:
            raw.reset()
    return buf, env, steps / (time.perf_counter() - t0)


def plan(model: Any, buf: ReplayBuffer, shape: str, phases: int, n_actions: int) -> dict[str, Any]:
    n, k = parse_shape(shape)
    d = RolloutSampler(buf, n, k, 1.0, seed=0)
    agent = RandomPolicy(n_actions)
    calls = 0
    t0 = time.perf_counter()
    for _ in range(phases):
        for _ in range(k):
            q = d.sample(agent)
            pred = model.step(q)
            d.continue_from(q, pred)
            calls += 1
    dt = time.perf_counter() - t0
    return {
        "shape": shape,
        "model_calls_per_phase": calls // phases,
        "batch": n,
        "transitions_per_s": round(phases * n * k / dt, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--game", default="ALE/Pong-v5")
    ap.add_argument("--minatar", default="MinAtar/Breakout-v1")
    ap.add_argument(
        "--steps", type=int, default=3000, help="real steps that fill the replay buffer"
    )
    ap.add_argument("--phases", type=int, default=20, help="planning phases per measurement")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    out: dict[str, Any] = {"benchmark": "planning_throughput", "game": a.game}

    cfg = EnvConfig(id=a.game, sticky_actions=0.0)
    buf, env, raw = fill(cfg, a.steps, states=True)
    perfect = PerfectModel(cfg, seed=2)
    runs = [plan(perfect, buf, s, a.phases, env.action_space.n) for s in ("100x1", "10x10")]
    rate = float(np.mean([r["transitions_per_s"] for r in runs]))
    out["perfect"] = {
        "raw_env_steps_per_s": round(raw, 1),
        "shapes": runs,
        "model_vs_raw": round(rate / raw, 3),
    }
    print("perfect model:", out["perfect"], flush=True)

    for game in (a.game, a.minatar):
        gcfg = EnvConfig(id=game, sticky_actions=0.0)
        b, e, _ = fill(gcfg, a.steps, states=False)
        net = ActionConditionalNet(tuple(e.observation_space.shape), int(e.action_space.n))
        learned = PixelModel(net, b, "cpu", seed=0)
        calls: list[int] = []
        net.register_forward_hook(lambda *_, c=calls: c.append(1))
        res = []
        for s in ("100x1", "10x10"):
            calls.clear()
            r = plan(learned, b, s, a.phases, e.action_space.n)
            r["net_forward_calls_per_phase"] = len(calls) // a.phases
            res.append(r)
        out[f"learned_{'atari' if is_atari(game) else 'minatar'}"] = res
        print(f"learned model ({game}):", res, flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
