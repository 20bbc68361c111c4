"""Partially observed classic control: the velocities are dropped from the observation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.utils import RecordConstructorArgs

from dynaworld.errors import ConfigError

# observation dimensions that stay visible (positions and angles; velocities are hidden)
VISIBLE = {
    "CartPole": (0, 2),  # x, θ  (hidden: ẋ, θ̇)
    "Acrobot": (0, 1, 2, 3),  # cos θ1, sin θ1, cos θ2, sin θ2  (hidden: θ̇1, θ̇2)
    "MountainCar": (0,),  # position  (hidden: velocity)
}


def visible_dims(env_id: str) -> tuple[int, ...]:
    game = env_id.split("/")[-1].rsplit("-v", 1)[0]
    if game not in VISIBLE:
        raise ConfigError(
            f"env.hide_velocities: supported for {', '.join(VISIBLE)}, not {env_id!r}"
        )
    return VISIBLE[game]


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
