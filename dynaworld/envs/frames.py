"""The World Models games' ids, action spaces and frame processing (64x64x3 uint8), shared by the
Gymnasium and envpool backends."""

from __future__ import annotations

import cv2
import gymnasium as gym
import numpy as np

CARRACING = "CarRacing-v3"
DOOM = "VizdoomTakeCover-v1"
# Doom's Discrete(3) (env.unwrapped.button_map): 0 no-op, 1 MOVE_RIGHT, 2 MOVE_LEFT; C's three
# output bands (low, middle, high) are left, no-op, right, as in the reference's doomrnn
DOOM_BANDS = (2, 0, 1)
HUD_ROWS = 84  # CarRacing rows 0:84 are the road; 84:96 the HUD bar
# The real envs' action spaces (the dream's are the same): steer, gas, brake; no-op, right, left
ACTION_SPACES: dict[str, gym.Space] = {
    CARRACING: gym.spaces.Box(np.array([-1, 0, 0]), np.array([1, 1, 1]), dtype=np.float32),
    DOOM: gym.spaces.Discrete(3),
}


def process_frame(frame: np.ndarray, size: int = 64, crop_rows: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 → (size, size, 3) uint8, after keeping rows ``0:crop_rows``."""
    if crop_rows is not None:
        frame = frame[:crop_rows]
    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
