"""Partially observed classic control: the velocities are dropped from the observation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.utils import RecordConstructorArgs

from dynaworld.config.train import visible_dims


class HideVelocities(gym.ObservationWrapper, RecordConstructorArgs):
    """Keep only the position/angle dimensions of a classic-control observation."""

    def __init__(self, env: gym.Env, env_id: str) -> None:
        RecordConstructorArgs.__init__(self, env_id=env_id)
        gym.ObservationWrapper.__init__(self, env)
        self.keep = np.array(visible_dims(env_id))
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        self.observation_space = gym.spaces.Box(
            space.low[self.keep], space.high[self.keep], (len(self.keep),), space.dtype.type
        )

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.keep]
