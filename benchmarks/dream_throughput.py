"""Dream throughput: one CMA-ES generation inside M, batched vs one rollout at a time.

1. A generation of the paper's CarRacing setting (population 64 x 16 rollouts x 1,000 steps) in the
   dream: ``dream_returns`` advances all 1,024 dreams as one batch; the reference implementations
   run one rollout at a time (batch 1) through the same M and C. The per-rollout loop is timed on
   ``--loop-rollouts`` rollouts and scaled to 1,024 (it is linear in the number of rollouts).
2. Real-env evaluation rate (V + M + C acting on CarRacing-v3) with 1 and 2 worker processes.

    python benchmarks/dream_throughput.py [--device cuda] [--backend envpool]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld.agents.controller import Controller
from dynaworld.models.dream import DreamEnv, dream_returns
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.models.vae import ConvVAE
from dynaworld.parallel import local_pool
from dynaworld.worldmodels.rollout import episodes_task


def dream(device: str, pop: int, rollouts: int, steps: int, loop_rollouts: int) -> dict[str, Any]:
    torch.manual_seed(0)
    m = MDNRNN(32, 3, 256, 5, reward_head=True)
    starts = torch.stack([torch.randn(100, 32), torch.full((100, 32), -4.0)], 1)
    env = DreamEnv(m, starts, temperature=1.0, observe="zh", done="never", device=device)
    c = Controller(32 + 256)
    params = torch.randn(pop, c.n_params, device=device) * 0.1
    dream_returns(env, c, params[:2], 2, 5)  # warm-up
    t = time.perf_counter()
    dream_returns(env, c, params, rollouts, steps)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    batched = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(loop_rollouts):  # the reference: one rollout at a time, batch 1
        dream_returns(env, c, params[i % pop : i % pop + 1], 1, steps)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    loop = (time.perf_counter() - t) / loop_rollouts * pop * rollouts
    n = pop * rollouts * steps
    return {
        "generation": f"{pop}x{rollouts} rollouts x {steps} steps",
        "batched_s": round(batched, 2),
        "per_rollout_loop_s": round(loop, 1),
        "loop_measured_rollouts": loop_rollouts,
        "speedup": round(loop / batched, 1),
        "batched_steps_per_s": round(n / batched),
        "loop_steps_per_s": round(n / loop),
    }


def real(backend: str, workers: int, episodes_per_worker: int, steps: int) -> float:
    """Steps/s of V + M + C acting in CarRacing-v3 across ``workers`` processes."""
    d = Path(tempfile.mkdtemp(prefix="dw-bench-"))
    torch.save({"z_dim": 32, "weights": ConvVAE(32).state_dict()}, d / "vae.pt")
    shape = {"z_dim": 32, "action_dim": 3, "hidden": 256, "gaussians": 5,
             "reward_head": False, "done_head": False}  # fmt: skip
    torch.save({"shape": shape, "weights": MDNRNN(**shape).state_dict()}, d / "mdn.pt")  # type: ignore[arg-type]
    env_kw = {"env_id": "CarRacing-v3", "size": 64, "max_episode_steps": steps, "backend": backend}
    spec = {"observe": "zh", "head": "car", "hidden": 0}
    params = np.random.default_rng(0).normal(0, 0.1, 867)
    pool = local_pool(workers)
    try:  # warm-up: spawn workers, load V and M, make the env
        for f in [
            pool.submit(
                episodes_task, str(d / "vae.pt"), str(d / "mdn.pt"), env_kw, spec, params, [0], 5
            )
            for _ in range(workers)
        ]:
            f.result()
        t = time.perf_counter()
        futures = [
            pool.submit(
                episodes_task,
                str(d / "vae.pt"),
                str(d / "mdn.pt"),
                env_kw,
                spec,
                params,
                list(range(episodes_per_worker)),
                None,
            )
            for _ in range(workers)
        ]
        for f in futures:
            f.result()
        return workers * episodes_per_worker * steps / (time.perf_counter() - t)
    finally:
        pool.shutdown()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--pop", type=int, default=64)
    p.add_argument("--rollouts", type=int, default=16)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--loop-rollouts", type=int, default=8, help="per-rollout loop: rollouts timed")
    p.add_argument("--backend", default="gymnasium", help="real env: gymnasium or envpool")
    p.add_argument("--real-steps", type=int, default=500, help="steps per real episode")
    p.add_argument("--skip-real", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    out: dict[str, Any] = {"device": a.device, "torch_threads": torch.get_num_threads()}
    out["dream"] = dream(a.device, a.pop, a.rollouts, a.steps, a.loop_rollouts)
    print(f"dream generation: {out['dream']}", flush=True)
    if not a.skip_real:
        out["real_backend"] = a.backend
        for w in (1, 2):
            out[f"real_steps_per_s_{w}_workers"] = round(real(a.backend, w, 2, a.real_steps), 1)
            print(
                f"real env, {w} worker(s): {out[f'real_steps_per_s_{w}_workers']} steps/s",
                flush=True,
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
