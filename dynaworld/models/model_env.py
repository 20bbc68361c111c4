"""Any model m as a batched environment (mbrl-lib's and TorchRL's ``ModelEnv``).

``ModelEnv`` advances n imagined rollouts together, one batched ``m.step(Query) -> Prediction``
per step, whatever m is: a vector or pixel model, the emulator (the perfect model), or the World
Models dream (``models.dream.DreamModel``). It is the one rollout path of dynaworld: Dyna's n×k
planning (``planning.RolloutSampler``), the dream ``VectorEnv`` (``models.dream.DreamEnv``), the
CMA-ES dream fitness (``dream_scores``) and the dream GIFs all run on it.

Its state is the current ``Query`` without actions: ``obs``, the model's recurrent ``state``,
the emulator states ``sim`` and the replay ``key`` of rows that just started. A rollout *ends*
at a terminal, at the model's time-limit cut (``Prediction.ended``) or after ``max_steps``; then

* ``autoreset=True``: it restarts from ``starts(mask)``, lazily, when the next query is built
  (``restart()`` makes it happen at once, for Gymnasium's same-step autoreset);
* ``autoreset=False``: it leaves the batch; ``rows`` are the indices of those still running,
  so a batch costs the rollouts' summed length, not n times the longest.

``starts(mask)`` returns a ``Query`` (actions ignored) of ``mask.sum()`` fresh start states for
the rows ``mask``; a start without a recurrent state gets zeros (the model's initial state).
Arrays may be numpy (host models) or torch (device models); masks follow the model's ``done``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dynaworld.types import Prediction, Query, Rows

Starts = Callable[[Any], Query]


def _mask_for(x: Any, mask: Any) -> Any:
    """``mask`` in the array library (and on the device) of ``x``."""
    if isinstance(x, torch.Tensor):
        return torch.as_tensor(mask, device=x.device)
    return mask.cpu().numpy() if isinstance(mask, torch.Tensor) else mask


def take(x: Any, mask: Any) -> Any:
    """The rows ``mask`` of a batch-first array, a tuple of them, or None."""
    if x is None:
        return None
    if isinstance(x, tuple):
        return tuple(take(part, mask) for part in x)
    return x[_mask_for(x, mask)]


def put(x: Any, mask: Any, rows: Any) -> Any:
    """A copy of ``x`` whose rows ``mask`` are ``rows`` (None: zeros, a model's initial state)."""
    if x is None:
        return None
    if isinstance(x, tuple):
        parts = rows if rows is not None else (None,) * len(x)
        return tuple(put(a, mask, b) for a, b in zip(x, parts, strict=True))
    x = x.clone() if isinstance(x, torch.Tensor) else np.array(x, dtype=np.asarray(x).dtype)
    m = _mask_for(x, mask)
    x[m] = 0 if rows is None else rows
    return x


def take_query(q: Query, mask: Any) -> Query:
    """The rows ``mask`` of a query."""
    return Query(
        take(q.obs, mask),
        take(q.action, mask),
        key=take(q.key, mask),
        state=take(q.state, mask),
        sim=take(q.sim, mask),
    )


class ModelEnv:
    def __init__(
        self,
        model: Any,
        starts: Starts,
        n: int,
        *,
        autoreset: bool = True,
        max_steps: int | None = None,
    ) -> None:
        self.model, self.starts, self.n = model, starts, n
        self.autoreset, self.max_steps = autoreset, max_steps
        self.obs: Rows = None
        self.state: Any = None
        self.sim: np.ndarray | None = None
        self.key: np.ndarray | None = None
        self.t: Rows = None  # steps since each row's start (autoreset=False: one int, all alike)
        self.rows: Rows = None  # autoreset=False: the original indices of the rows still running
        self.pending: Rows = None  # rows that ended and restart when the next query is built
        self.reset()

    @property
    def running(self) -> int:
        return 0 if self.obs is None else len(self.obs)

    def reset(self) -> None:
        """Every row restarts (drawn when the next query is built)."""
        self.pending = np.ones(self.n, bool)

    def restart(self) -> None:
        """Draw the start states of the rows that ended (all rows after ``reset``)."""
        mask = self.pending
        if mask is None or not bool(mask.any()):
            return
        q = self.starts(mask)
        if self.obs is None or bool(mask.all()):
            self.obs, self.state, self.sim, self.key = q.obs, q.state, q.sim, q.key
            self.t = _counter(q.obs, self.n) if self.autoreset else 0
            self.rows = _counter(q.obs, self.n, arange=True)
        else:
            self.obs = put(self.obs, mask, q.obs)
            self.state = put(self.state, mask, q.state)
            if self.sim is not None and q.sim is not None:
                self.sim = put(self.sim, mask, q.sim)
            if q.key is not None:
                self.key = put(np.full(self.n, -1, np.int64), mask, q.key)
            self.t = put(self.t, mask, None)
        self.pending = None

    def query(self, action: Rows) -> Query:
        """The current states with the agent's actions ``action`` (restarts happen first)."""
        self.restart()
        return Query(self.obs, action, key=self.key, state=self.state, sim=self.sim)

    def observe(self) -> Query:
        """The current states, without actions (what the agent acts on)."""
        self.restart()
        return Query(self.obs, None, key=self.key, state=self.state, sim=self.sim)

    def advance(self, prediction: Prediction) -> Rows:
        """Continue from m's answer; returns which rows ended (before any restart or removal)."""
        p = prediction
        self.obs, self.state, self.sim, self.key = p.next_obs, p.state, p.sim, None
        self.t = self.t + 1
        ended = p.done if p.ended is None else p.done | p.ended
        if self.max_steps is not None and self.autoreset:
            ended = ended | (self.t >= self.max_steps)
        elif self.max_steps is not None and self.t >= self.max_steps:  # every row is cut
            ended = ended | True
        if self.autoreset:
            self.pending = ended if bool(ended.any()) else None
        elif bool(ended.any()):
            keep = ~ended
            self.obs, self.state, self.sim = (
                take(p.next_obs, keep),
                take(p.state, keep),
                take(p.sim, keep),
            )
            self.rows = take(self.rows, keep)
        return ended

    def step(self, action: Rows) -> tuple[Query, Prediction, Rows]:
        """One batched model step: the query, m's prediction and which rows ended."""
        q = self.query(action)
        p = self.model.step(q)
        return q, p, self.advance(p)


def _counter(like: Any, n: int, arange: bool = False) -> Any:
    """(n,) int64 zeros (or 0..n-1) in the array library and on the device of ``like``."""
    if isinstance(like, torch.Tensor):
        f = torch.arange if arange else torch.zeros
        return f(n, dtype=torch.long, device=like.device)
    return np.arange(n) if arange else np.zeros(n, np.int64)
