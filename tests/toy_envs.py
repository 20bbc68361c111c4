"""Small envs a user might bring (registered on import, as a user's package would)."""

import threading

import gymnasium as gym
import numpy as np


class LockedCorridor(gym.Env):
    """Walk right along a corridor of 5 cells; holds a lock (a handle that cannot be pickled)."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0.0, 4.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2, start=-1)  # -1: left, 0: right
        self.lock = threading.Lock()
        self.pos = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = int(self.np_random.integers(0, 2))
        return np.array([self.pos], np.float32), {}

    def step(self, action):
        assert action in (-1, 0), f"action {action} outside Discrete(2, start=-1)"
        with self.lock:
            self.pos = max(0, self.pos + (1 if action == 0 else -1))
        done = self.pos >= 4
        return np.array([self.pos], np.float32), float(done), done, False, {}


gym.register("LockedCorridor-v0", entry_point=LockedCorridor, max_episode_steps=50)


class Forever(gym.Env):
    """An episode that never ends (no time limit): reward 1 a step."""

    observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, False, False, {}


gym.register("Forever-v0", entry_point=Forever)
