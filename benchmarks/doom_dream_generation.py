"""The cost of one CMA-ES generation in Doom's dream at the reference's scale (one core).

M = LSTM 512 x 5 Gaussians with a death head (random weights; the cost does not depend on them),
C on [z, c, h] (1,089 parameters), deaths off so every dream runs: the worst case, 2,100 steps.
Timed on 50 steps and scaled. The last line printed is one JSON object.

    python benchmarks/doom_dream_generation.py
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from dynaworld.agents.controller import Controller
from dynaworld.envs.frames import ACTION_SPACES, DOOM, DOOM_BANDS
from dynaworld.models.dream import DreamEnv, dream_returns
from dynaworld.models.mdnrnn import MDNRNN


def main() -> None:
    torch.set_num_threads(1)
    m = MDNRNN(64, 3, 512, 5, done_head=True)
    env = DreamEnv(
        m,
        np.zeros((10, 2, 64), np.float32),
        1,
        temperature=1.15,
        observe="zch",
        reward="survival",
        done="never",
        max_steps=2100,
        action_space=ACTION_SPACES[DOOM],
    )
    c = Controller(64 + 2 * 512, "discrete3", bands=DOOM_BANDS)
    out = {}
    for pop, rollouts in [(64, 16), (64, 8)]:
        params = torch.zeros(pop, c.n_params)
        t = time.perf_counter()
        dream_returns(env, c, params, rollouts, 50)
        step = (time.perf_counter() - t) / 50
        out[f"{pop}x{rollouts}"] = {
            "ms_per_step": round(step * 1e3, 1),
            "generation_2100_steps_s": round(step * 2100),
        }
        print(
            f"{pop}x{rollouts}: {step * 1e3:.1f} ms per dream step; 2,100 steps = {step * 2100:.0f} s",
            flush=True,
        )
    print(json.dumps({"benchmark": "doom_dream_generation", "torch_threads": 1, **out}))


if __name__ == "__main__":
    main()
