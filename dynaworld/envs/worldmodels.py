"""World Models environments: CarRacing-v3 and VizDoom TakeCover seen as 64x64x3 uint8 frames.

``make_wm_env`` gives a Gymnasium env whose observation is the frame V encodes: CarRacing with its
HUD (bottom 12 rows) cropped, Doom's 240x320 screen, both resized to 64x64 with INTER_AREA. Doom
gets the 2,100-step cap of the paper; vizdoom's ``_vizdoom*`` files go to a temp dir, not the cwd.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np

from dynaworld.envs.envpool_carracing import make_envpool_carracing
from dynaworld.envs.frames import ACTION_SPACES, CARRACING, DOOM, HUD_ROWS, process_frame
from dynaworld.errors import EnvironmentNotFound

__all__ = ["ACTION_SPACES", "CARRACING", "DOOM", "HUD_ROWS", "make_wm_env", "process_frame"]


class FrameObservation(gym.ObservationWrapper):
    """Observation → the processed 64x64 frame (Doom's dict observation → its ``screen``)."""

    def __init__(self, env: gym.Env, size: int, crop_rows: int | None) -> None:
        super().__init__(env)
        self.size, self.crop_rows = size, crop_rows
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        if isinstance(observation, dict):
            observation = observation["screen"]
        return process_frame(observation, self.size, self.crop_rows)


@contextlib.contextmanager
def _in_dir(path: str) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _make_doom(doom_skill: int | None = None, **kwargs: Any) -> gym.Env:
    try:
        from vizdoom import gymnasium_wrapper  # noqa: F401  (registers the Vizdoom* ids)
    except ImportError as e:
        raise EnvironmentNotFound(
            f"{DOOM} needs vizdoom: pip install 'dynaworld[vizdoom]' ({e})"
        ) from None
    # vizdoom writes _vizdoom/ and _vizdoom.ini into the working directory when a game starts.
    scratch = os.path.join(tempfile.gettempdir(), f"dynaworld-vizdoom-{os.getuid()}")
    os.makedirs(scratch, exist_ok=True)
    with _in_dir(scratch):
        env = gym.make(DOOM, **kwargs)
        if doom_skill is not None:  # the skill takes effect only when the game starts again
            game = env.unwrapped.game  # type: ignore[attr-defined]
            game.close()
            game.set_doom_skill(doom_skill)
            game.init()
        env.reset(seed=0)
    return env


def make_wm_env(
    env_id: str,
    size: int = 64,
    max_episode_steps: int | None = None,
    backend: str = "gymnasium",
    doom_skill: int | None = None,
) -> gym.Env:
    """CarRacing-v3 or VizdoomTakeCover-v1 with 64x64 uint8 frames and episode statistics.

    ``backend='envpool'`` gives envpool's C++ CarRacing-v3 behind the same interface.
    ``doom_skill``: VizDoom's 1-5 (None: take_cover.cfg's 4; the paper's ppaquette env set 5)."""
    if env_id == CARRACING and backend == "envpool":
        return make_envpool_carracing(size, max_episode_steps)
    if env_id == CARRACING:
        try:
            env = gym.make(CARRACING, max_episode_steps=max_episode_steps)
        except (gym.error.DependencyNotInstalled, ImportError) as e:
            raise EnvironmentNotFound(
                f"{CARRACING} needs Box2D: pip install 'dynaworld[box2d]' ({e})"
            ) from None
        env = FrameObservation(env, size, HUD_ROWS)
    elif env_id == DOOM:
        env = _make_doom(doom_skill, max_episode_steps=max_episode_steps or 2100)
        env = FrameObservation(env, size, None)
    else:
        raise EnvironmentNotFound(
            f"World Models environments are '{CARRACING}' and '{DOOM}', not '{env_id}'"
        )
    return gym.wrappers.RecordEpisodeStatistics(env)
