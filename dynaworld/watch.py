"""Watch a trained agent: evaluation episodes recorded as an animated GIF.

    dynaworld eval RUN --gif agent.gif [--episodes 1]
    dynaworld.load(RUN).record("agent.gif", episodes=1)

Frames come from the environment's own ``rgb_array`` rendering (MinAtar's 10×10 grids and other
small frames are scaled up, nearest-neighbour, to at least 160 pixels a side); actions are the
run's evaluation policy (epsilon-greedy at ``agent.eval_eps``), episodes seeded ``seed + i`` as in
``dynaworld eval``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dynaworld.errors import DynaworldError
from dynaworld.files import atomic_write

MIN_SIDE = 160
MAX_FRAMES = 3000  # a GIF longer than this is cut (its episodes' returns still count in full)


def as_frame(image: Any) -> np.ndarray:
    """An H×W×3 uint8 frame from an env's rendering (floats in [0, 1] scaled; small frames enlarged)."""
    x = np.asarray(image)
    if x.ndim != 3 or x.shape[-1] not in (3, 4):
        raise DynaworldError(
            f"the environment rendered an array of shape {x.shape}, not an RGB frame"
        )
    if x.dtype != np.uint8:
        x = np.clip(x * 255.0 if x.max() <= 1.0 else x, 0, 255).astype(np.uint8)
    k = max(1, math.ceil(MIN_SIDE / min(x.shape[:2])))
    return np.repeat(np.repeat(x[..., :3], k, axis=0), k, axis=1)


def record_gif(
    run: Any, path: str | Path, episodes: int = 1, seed: int = 12345, fps: int = 30
) -> dict[str, Any]:
    """Play ``episodes`` evaluation episodes of ``run`` (a ``dynaworld.api.Run``) into a GIF."""
    env = run.make_env(render_mode="rgb_array")
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    returns: list[float] = []
    try:
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            total, done, steps = 0.0, False, 0
            while not done and steps < run.config.eval_max_steps:  # cut as evaluation cuts it
                steps += 1
                if len(frames) < MAX_FRAMES:
                    with warnings.catch_warnings():  # Gymnasium's checker on MinAtar's float frames
                        warnings.simplefilter("ignore")
                        frames.append(as_frame(env.render()))
                action = run.agent.policy(obs[None], run.config.agent.eval_eps, rng)[0]
                obs, r, term, trunc, _ = env.step(int(action))
                total, done = total + float(r), bool(term or trunc)
            returns.append(total)
    finally:
        env.close()
    if not frames:
        raise DynaworldError("no frame was rendered")
    images = [Image.fromarray(f) for f in frames]
    with atomic_write(Path(path), "wb") as f:
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(20, round(1000 / fps)), loop=0)  # fmt: skip
    return {"gif": str(path), "episodes": episodes, "frames": len(frames), "returns": returns}
