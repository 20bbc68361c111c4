"""The contract of a learned model m, beyond the loop's ``Model`` (update + batched step).

A learned model is given the data it learns from when it is built (the replay buffer the loop's
data step writes, ``ModelContext.buffer``); ``update(transition)`` is UPDATEMODEL: it trains on
that data at its own schedule, never on held-out episodes (``models.heldout``). The trainer logs
what this protocol exposes and measures its errors on the held-out episodes. A registry entry
(or a user's class) with ``learns = True`` promises this contract.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dynaworld.loop import Model
from dynaworld.replay import ReplayBuffer


class LearningModel(Model, Protocol):
    buffer: ReplayBuffer  # the real transitions it learns from
    holdout_every: int  # every n-th episode is held out (models.heldout.holdout_mask)
    frozen: bool  # True: never trained (a pretrained model)
    updates: int  # gradient steps or refits made so far
    last_loss: float  # the loss of the latest update (nan before the first)

    def k_step_error(
        self, k: int, samples: int = 128, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Open-loop errors of the frame (or state) and reward after 1..k steps of its own
        predictions from held-out real states, under the real actions; None before a held-out
        episode has k steps."""
        ...

    def done_at(self, idx: np.ndarray) -> np.ndarray:
        """Its predicted termination for the stored transitions ``idx`` (bool)."""
        ...
