"""DQN's replay buffer as a (non-parametric) model: m(s, a) returns the stored r, s'."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynaworld.replay import ReplayBuffer
from dynaworld.types import Prediction, Query, Transition


class ReplayModel:
    """m(s, a) = the r, s' stored for (s, a): ``step`` looks them up by their replay index.

    Its UPDATEMODEL is the loop's data step (``ReplayWriter``, D ← D ∪ {(s, a, r, s')}) on the
    same buffer, so ``update`` has nothing left to learn. With ``n_step > 1`` the answer is the
    stored n-step return and the state n steps later.
    """

    def __init__(self, buffer: ReplayBuffer, n_step: int = 1, gamma: float = 0.99) -> None:
        self.buffer, self.n_step, self.gamma = buffer, n_step, gamma

    def update(self, t: Transition) -> None:
        pass  # the writer of its buffer stored t

    def step(self, query: Query[np.ndarray]) -> Prediction[np.ndarray]:
        if query.key is None:
            raise ValueError(
                "the replay model only answers for stored (s, a): sample them from its buffer"
            )
        ret, nxt, done, horizon = self.buffer.transitions(query.key, self.n_step, self.gamma)
        return Prediction(ret, self.buffer.observations(nxt), done, horizon)


class ReplayWriter:
    """The loop's data step: each real transition written into a replay buffer (D ← D ∪ {t}).

    ``sim`` (optional) maps a transition to the emulator state stored beside each observation,
    for the perfect model: ``sim(t, first=True)`` for s, ``sim(t, first=False)`` for s'.
    """

    def __init__(self, buffer: ReplayBuffer, sim: Any = None) -> None:
        self.buffer, self.sim = buffer, sim
        self.new_episode = True

    def add(self, t: Transition) -> None:
        extra = self.sim
        if self.new_episode:
            self.buffer.start_episode(t.obs, extra(t, True) if extra else None)
        self.buffer.add(t.action, t.reward, t.done, t.next_obs, extra(t, False) if extra else None)
        self.new_episode = t.episode_end

    def state_dict(self) -> dict[str, Any]:
        return {"buffer": self.buffer.state_dict(), "new_episode": self.new_episode}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.buffer.load_state_dict(d["buffer"])
        self.new_episode = bool(d["new_episode"])
