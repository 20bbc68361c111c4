"""The data that flows through Algorithm 1: real transitions, model queries and agent batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

import numpy as np

Rows: TypeAlias = Any  # a batch-first array: np.ndarray on the host, torch.Tensor on a device
A = TypeVar(
    "A"
)  # a model's array type: Query[np.ndarray] on the host, Query[torch.Tensor] on a device


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
class Query(Generic[A]):
    """What the sampler d hands to the model m: states s̃ and actions ã (a batch of rows, arrays of
    type ``A``: a model declares ``step(self, query: Query[np.ndarray]) -> Prediction[np.ndarray]``).

    A model state has up to three parts, each batch-first and None when absent: ``obs`` (what
    the agent sees; the dream's z), the model's own recurrent ``state`` (an LSTM's (h, c)), and
    the simulator state ``sim`` the perfect model restores (emulator snapshots, one object a row).
    """

    obs: A
    action: A
    key: np.ndarray | None = None  # replay indices (-1: a model's state), for lookups and history
    state: Any = None  # the model's recurrent state of s̃ (an array or a tuple of arrays)
    sim: np.ndarray | None = None  # emulator states of s̃ (object array), for the perfect model


@dataclass
class Prediction(Generic[A]):
    """What the model m answers: r̃, s̃' (and whether the imagined episode ended), rows of ``A``."""

    reward: A
    next_obs: A
    done: A
    horizon: A  # environment steps covered (n-step returns: bootstrap with gamma**horizon)
    state: Any = None  # the model's recurrent state of s̃' (see Query)
    sim: np.ndarray | None = None  # emulator states of s̃' (see Query)
    ended: A | None = None  # imagined episode cut off without a terminal (time limit)


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
