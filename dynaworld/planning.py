"""Planning shapes n×k: n rollouts of k steps from replay start states, advanced together.

A planning phase makes P = n·k model transitions in k *batched* model calls (never n·k single
calls). How those transitions reach the agent is the update rule:

* ``imagined_buffer`` (default): they go into a FIFO buffer of imagined transitions and the agent
  makes ``updates_per_transition`` × P minibatch updates of ``agent.batch_size`` drawn from it
  (optionally mixing in a ``real_fraction`` of replayed real transitions). Every shape with the
  same P then makes the same number of agent updates, so shapes differ only in *what* is imagined.
* ``rollout_step``: each rollout step's batch of n transitions is one Q-learning minibatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dynaworld.loop import Ratio
from dynaworld.models.model_env import ModelEnv, take_query
from dynaworld.replay import ReplayBuffer, UniformSampler
from dynaworld.types import Batch, Prediction, Query


class RolloutSampler:
    """d for n×k planning: n start states from the replay buffer, then the model's own s̃'.

    The rollouts are a ``ModelEnv`` whose steps the loop makes (``sample`` is its query,
    ``continue_from`` its advance), so m is called by the loop, as in Algorithm 1. Actions come
    from the current agent, epsilon-greedy with ``epsilon``. A rollout that reaches a terminal
    (or the time limit) restarts from a fresh start state, so every phase makes n·k transitions.
    A query's ``key`` holds the replay index of each fresh start state (−1 for a state the model
    predicted; None when no row is fresh): models with memory (the LSTM) read the start state's
    history from the buffer.
    """

    def __init__(
        self,
        buffer: ReplayBuffer,
        n: int,
        k: int,
        epsilon: float | Callable[[], float],
        seed: int,
        recent: int | None = None,
    ) -> None:
        self.buffer, self.n, self.k, self.epsilon = buffer, n, k, epsilon
        self.starts = UniformSampler(buffer, n, seed, recent)
        self.rng = np.random.Generator(np.random.PCG64(seed + 1))
        self.j = 0  # step within the current rollouts
        self.rollouts = ModelEnv(None, lambda mask: take_query(self.starts.sample(), mask), n)

    def sample(self, agent: Any) -> Query:
        if self.j == 0:
            self.rollouts.reset()
        eps = self.epsilon() if callable(self.epsilon) else self.epsilon
        return self.rollouts.query(agent.policy(self.rollouts.observe().obs, eps, self.rng))

    def continue_from(self, query: Query, pred: Prediction) -> None:
        self.rollouts.advance(pred)
        self.j = (self.j + 1) % self.k

    def state_dict(self) -> dict[str, Any]:
        return {"starts": self.starts.state_dict(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.starts.load_state_dict(d["starts"])
        self.rng.bit_generator.state = d["rng"]


class ImaginedReplay:
    """UPDATEAGENT for model transitions: store them, then train on minibatches drawn from them."""

    def __init__(
        self,
        agent: Any,
        capacity: int,
        batch_size: int,
        updates_per_transition: float,
        seed: int,
        real: UniformSampler | None = None,
        real_model: Any = None,
        real_fraction: float = 0.0,
    ) -> None:
        self.agent, self.capacity, self.batch_size = agent, capacity, batch_size
        self.schedule, self.real_fraction = Ratio(updates_per_transition), real_fraction
        self.real, self.real_model = real, real_model
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.data: Batch | None = None
        self.size = self.pos = self.stored = 0  # stored: model transitions ever received

    def _store(self, b: Batch) -> None:
        if self.data is None:
            self.data = Batch(
                *(
                    np.empty((self.capacity, *np.shape(x)[1:]), np.asarray(x).dtype)
                    for x in (b.obs, b.action, b.reward, b.next_obs, b.done, b.horizon)
                )
            )
        idx = (self.pos + np.arange(len(b))) % self.capacity
        for name in ("obs", "action", "reward", "next_obs", "done", "horizon"):
            getattr(self.data, name)[idx] = getattr(b, name)
        self.pos = (self.pos + len(b)) % self.capacity
        self.size = min(self.capacity, self.size + len(b))

    def _minibatch(self) -> Batch:
        assert self.data is not None
        n_real = int(round(self.batch_size * self.real_fraction)) if self.real is not None else 0
        idx = self.rng.integers(self.size, size=self.batch_size - n_real)
        d = self.data
        parts = [
            Batch(
                d.obs[idx],
                d.action[idx],
                d.reward[idx],
                d.next_obs[idx],
                d.done[idx],
                d.horizon[idx],
            )
        ]
        if n_real:
            assert self.real is not None
            self.real.batch_size = n_real
            q = self.real.sample()
            parts.append(Batch.from_model(q, self.real_model.step(q)))
        if len(parts) == 1:
            return parts[0]
        return Batch(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("obs", "action", "reward", "next_obs", "done", "horizon")
            )
        )

    def update(self, batch: Batch) -> int:
        self._store(batch)
        self.stored += len(batch)
        n = self.schedule.between(self.stored - len(batch), self.stored)
        for _ in range(n):
            self.agent.update(self._minibatch())
        return n

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "size": self.size,
            "pos": self.pos,
            "stored": self.stored,
            "rng": self.rng.bit_generator.state,
        }
        if self.data is not None:
            for name in ("obs", "action", "reward", "next_obs", "done", "horizon"):
                out[name] = torch.from_numpy(getattr(self.data, name)[: self.size].copy())
        return out

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.size, self.pos = int(d["size"]), int(d["pos"])
        self.stored = int(d["stored"])
        self.rng.bit_generator.state = d["rng"]
        if "obs" in d:
            arrays = [
                d[n].numpy() for n in ("obs", "action", "reward", "next_obs", "done", "horizon")
            ]
            self.data = Batch(*(np.empty((self.capacity, *a.shape[1:]), a.dtype) for a in arrays))
            for name, a in zip(
                ("obs", "action", "reward", "next_obs", "done", "horizon"), arrays, strict=True
            ):
                getattr(self.data, name)[: len(a)] = a
