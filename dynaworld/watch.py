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
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.error import DependencyNotInstalled
from PIL import Image

from dynaworld.episodes import FramesSeen, play_episodes
from dynaworld.errors import DynaworldError
from dynaworld.evaluate import EpsilonGreedy
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


@contextmanager
def no_window() -> Iterator[None]:
    """Off-screen drawing: SDL (pygame, CartPole's renderer) without a display, so a headless
    machine prints no 'XDG_RUNTIME_DIR is invalid'; a driver the user set is kept."""
    unset = "SDL_VIDEODRIVER" not in os.environ
    if unset:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    try:
        yield
    finally:
        if unset:
            os.environ.pop("SDL_VIDEODRIVER", None)


def rendering(env: Any) -> Callable[[Any], np.ndarray]:
    """``env``'s rendering of its current state as a frame (the observation is not read); a
    renderer that is not installed (CartPole's pygame) is a named error."""

    def frame(obs: Any) -> np.ndarray:
        with warnings.catch_warnings():  # Gymnasium's checker on MinAtar's float frames
            warnings.simplefilter("ignore")
            try:
                with no_window():
                    return as_frame(env.render())
            except DependencyNotInstalled as e:
                raise DynaworldError(
                    f"cannot record {env.spec.id if env.spec else env}: {e}"
                ) from e

    return frame


def check_rendering(run: Any, seed: int = 12345) -> None:
    """Render one frame of ``run``'s env, so a GIF that cannot be drawn is refused before the
    evaluation episodes rather than after them."""
    env = run.make_env(render_mode="rgb_array")
    try:
        env.reset(seed=seed)
        rendering(env)(None)
    finally:
        env.close()


def shared_palette(
    frames: list[np.ndarray], colours: int = 255, method: Any = Image.Quantize.FASTOCTREE
) -> Image.Image:
    """One palette for a whole GIF, made from a sample of its frames (every frame quantized to it
    without dithering: 6-8x faster to write than a palette per frame, and the encoder stores only
    each frame's changes)."""
    sample = np.concatenate(frames[:: max(1, len(frames) // 16)], axis=0)
    return Image.fromarray(sample).quantize(colours, method=method)


def record_gif(
    run: Any, path: str | Path, episodes: int = 1, seed: int = 12345, fps: int = 30
) -> dict[str, Any]:
    """Play ``episodes`` evaluation episodes of ``run`` (a ``dynaworld.api.Run``) into a GIF."""
    env = run.make_env(render_mode="rgb_array")
    policy = EpsilonGreedy(run.agent, run.config.agent.eval_eps, np.random.default_rng(seed))
    sink = FramesSeen(rendering(env), MAX_FRAMES)
    try:  # cut as evaluation cuts it
        seeds = [seed + i for i in range(episodes)]
        returns = play_episodes([env], policy, seeds, run.config.eval_max_steps, [sink])
    finally:
        env.close()
    frames = sink.frames
    if not frames:
        raise DynaworldError("no frame was rendered")
    palette = shared_palette(frames)
    images = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames
    ]
    with atomic_write(Path(path), "wb") as f:
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(20, round(1000 / fps)), loop=0)  # fmt: skip
    return {"gif": str(path), "episodes": episodes, "frames": len(frames), "returns": returns}
