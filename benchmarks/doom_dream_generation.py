"""The cost of one CMA-ES generation in Doom's dream at the reference's scale (one core).

M = LSTM 512 x 5 Gaussians with a death head (random weights; the cost does not depend on them),
C on [z, c, h] (1,089 parameters), deaths off so every dream runs: the worst case, 2,100 steps.

    python benchmarks/doom_dream_generation.py
"""

import time, torch, numpy as np

torch.set_num_threads(1)
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.models.dream import DreamEnv, dream_returns
from dynaworld.agents.controller import Controller
from dynaworld.envs.frames import ACTION_SPACES, DOOM, DOOM_BANDS

m = MDNRNN(64, 3, 512, 5, done_head=True)
starts = np.zeros((10, 2, 64), np.float32)
env = DreamEnv(
    m,
    starts,
    1,
    temperature=1.15,
    observe="zch",
    reward="survival",
    done="never",
    max_steps=2100,
    action_space=ACTION_SPACES[DOOM],
)
c = Controller(64 + 1024, "discrete3", bands=DOOM_BANDS)
for P, R in [(64, 16), (64, 8)]:
    p = torch.zeros(P, c.n_params)
    t = time.time()
    dream_returns(env, c, p, R, 50)
    dt = time.time() - t
    print(
        f"{P}x{R}: {dt / 50 * 1000:.1f} ms per dream step (batch {P * R}); 2,100 steps = {dt / 50 * 2100:.0f} s",
        flush=True,
    )
