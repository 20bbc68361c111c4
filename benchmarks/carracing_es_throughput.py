"""CarRacing CMA-ES throughput on the real env: the emulator's limit, per-rollout workers, batched.

In one run on one machine, all on envpool's C++ CarRacing-v3:

1. raw: envpool alone, random actions, one pool with all cores' threads (the physical limit;
   the best of a few pool sizes);
2. per-rollout: V + M + C acting one episode at a time per worker process, V and M at batch 1
   every step (``episodes_task``, what ``es.where=real`` ran before), with 2 workers;
3. batched: a whole generation (population x rollouts episodes) in lock-step,
   ``CarRacingGroups`` played by ``play_episodes`` with a population ``WorldModelsPolicy``: one V
   encode, one M step and one C act for every running episode per step.

V, M and C have random weights (the cost does not depend on them).

    python benchmarks/carracing_es_throughput.py [--pop 64] [--rollouts 16] [--steps 100]

The last line printed is one JSON object, with the ratios batched / raw and batched / per-rollout.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np
import torch
from dream_throughput import real

from dynaworld.envs.envpool_carracing import CarRacingGroups, _import_envpool
from dynaworld.envs.frames import ACTION_SPACES, CARRACING
from dynaworld.episodes import play_episodes
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.models.vae import ConvVAE
from dynaworld.worldmodels.rollout import WorldModelsPolicy, controller_for


def raw(envs: int, threads: int, steps: int) -> float:
    """envpool's CarRacing steps/s with random actions (no frame processing, no networks)."""
    pool = _import_envpool().make(
        "CarRacing-v3", env_type="gymnasium", num_envs=envs, batch_size=envs,
        num_threads=threads, seed=0,
    )  # fmt: skip
    pool.reset()
    a = np.random.default_rng(0).uniform([-1, 0, 0], [1, 1, 1], (steps, envs, 3)).astype(np.float32)
    pool.step(a[0])
    t = time.perf_counter()
    for i in range(1, steps):
        pool.step(a[i])
    rate = envs * (steps - 1) / (time.perf_counter() - t)
    pool.close()
    return rate


def batched(pop: int, rollouts: int, steps: int, device: str) -> float:
    torch.manual_seed(0)
    v, m = ConvVAE(32).to(device).eval(), MDNRNN(32, 3, 256, 5).to(device).eval()
    c = controller_for("zh", 32, 256, "car", 0)
    params = torch.randn(pop, c.n_params, device=device) * 0.1
    space = ACTION_SPACES[CARRACING]

    def generation(max_steps: int) -> None:
        env = CarRacingGroups(pop, rollouts, seed=0, max_episode_steps=steps + 1)
        pi = WorldModelsPolicy(v, m, c, params, "zh", space, per_candidate=rollouts)
        play_episodes(env, pi, [j for _ in range(pop) for j in range(rollouts)], max_steps)
        env.close()

    generation(2)  # warm-up
    t = time.perf_counter()
    generation(steps)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return pop * rollouts * steps / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pop", type=int, default=64)
    p.add_argument("--rollouts", type=int, default=16)
    p.add_argument("--steps", type=int, default=100, help="steps per episode, batched path")
    p.add_argument("--raw-steps", type=int, default=200)
    p.add_argument("--real-steps", type=int, default=500, help="steps per episode, per-rollout")
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    cores = os.cpu_count() or 1
    out: dict[str, Any] = {"cores": cores, "torch_threads": torch.get_num_threads()}
    sizes = sorted({2 * cores, 8 * cores, 16})
    out["raw_steps_per_s_by_envs"] = {n: round(raw(n, cores, a.raw_steps), 1) for n in sizes}
    out["raw_steps_per_s"] = max(out["raw_steps_per_s_by_envs"].values())
    print(f"raw envpool, {cores} threads: {out['raw_steps_per_s_by_envs']} steps/s", flush=True)
    out["per_rollout_steps_per_s_2_workers"] = round(real("envpool", 2, 2, a.real_steps), 1)
    print(f"per-rollout, 2 workers: {out['per_rollout_steps_per_s_2_workers']} steps/s", flush=True)
    out["batched"] = f"{a.pop}x{a.rollouts} episodes x {a.steps} steps, device {a.device}"
    out["batched_steps_per_s"] = round(batched(a.pop, a.rollouts, a.steps, a.device), 1)
    print(f"batched {out['batched']}: {out['batched_steps_per_s']} steps/s", flush=True)
    out["batched_over_raw"] = round(out["batched_steps_per_s"] / out["raw_steps_per_s"], 3)
    out["batched_over_per_rollout"] = round(
        out["batched_steps_per_s"] / out["per_rollout_steps_per_s_2_workers"], 2
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
