"""The data that flows through Algorithm 1: real transitions, model queries and agent batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Transition:
    """One real interaction: s, a, r, s' from environment E."""

    obs: np.ndarray
    action: int
    reward: float
    next_obs: np.ndarray
    done: bool  # no bootstrapping from next_obs (game over, or a life lost when so configured)
    episode_end: bool  # the environment must be reset (terminated or truncated)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Query:
    """What the sampler d hands to the model m: states s̃ and actions ã (a batch)."""

    obs: np.ndarray
    action: np.ndarray
    key: np.ndarray | None = None  # replay indices (-1: a model's state), for lookups and history
    payload: Any = None  # per-state extras (emulator states; an LSTM's hidden state)


@dataclass
class Prediction:
    """What the model m answers: r̃, s̃' (and whether the imagined episode ended)."""

    reward: np.ndarray
    next_obs: np.ndarray
    done: np.ndarray
    horizon: np.ndarray  # environment steps covered (n-step returns: bootstrap with gamma**horizon)
    payload: Any = None  # per-state extras of s̃' (emulator states, for rollouts)
    ended: np.ndarray | None = None  # imagined episode cut off without a terminal (time limit)


@dataclass
class Batch:
    """A minibatch for UPDATEAGENT."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    done: np.ndarray
    horizon: np.ndarray

    @classmethod
    def from_model(cls, q: Query, p: Prediction) -> Batch:
        return cls(q.obs, q.action, p.reward, p.next_obs, p.done, p.horizon)

    @classmethod
    def from_transition(cls, t: Transition) -> Batch:
        return cls(
            t.obs[None],
            np.array([t.action]),
            np.array([t.reward], np.float32),
            t.next_obs[None],
            np.array([t.done]),
            np.ones(1, np.int64),
        )

    def __len__(self) -> int:
        return len(self.action)
