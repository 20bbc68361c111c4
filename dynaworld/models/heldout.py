"""Held-out episodes of the replay buffer, shared by every learned model: which episodes a model
never trains on, and its one-step termination error measured on them."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from dynaworld.replay import ReplayBuffer


def holdout_mask(buffer: ReplayBuffer, idx: np.ndarray, every: int) -> np.ndarray:
    """Episodes held out from model training (by a hash of their first frame's index)."""
    start = buffer.episode_start[idx % buffer.capacity]
    return (start * 2654435761 % 1000003) % every == 0 if every > 1 else np.zeros(len(idx), bool)


def training_indices(
    buffer: ReplayBuffer, n: int, rng: np.random.Generator, every: int
) -> np.ndarray:
    """``n`` replay indices drawn uniformly from the episodes that are not held out."""
    idx = buffer.sample_indices(n, rng)
    for _ in range(100):
        bad = holdout_mask(buffer, idx, every)
        if not bad.any():
            break
        idx[bad] = buffer.sample_indices(int(bad.sum()), rng)
    return idx


def heldout(buffer: ReplayBuffer, every: int, stop: int) -> np.ndarray:
    """Replay indices below ``stop`` of held-out episodes whose transition can be read."""
    cand = np.arange(buffer.oldest, max(buffer.oldest, stop))
    return cand[holdout_mask(buffer, cand, every) & buffer.valid(cand)]


def heldout_starts(
    buffer: ReplayBuffer, k: int, every: int, samples: int, rng: np.random.Generator
) -> np.ndarray | None:
    """Up to ``samples`` held-out indices followed by k real steps of the same episode (or None)."""
    b = buffer
    cand = heldout(b, every, b.t - k - 1)
    ok = np.ones(len(cand), bool)
    for j in range(k):
        ok &= b.exists(cand + j) & ~(b.dones[(cand + j) % b.capacity] & (j < k - 1))
    cand = cand[ok]
    if len(cand) == 0:
        return None
    return rng.choice(cand, size=min(samples, len(cand)), replace=False)


class HeldOutModel(Protocol):
    buffer: ReplayBuffer
    holdout_every: int

    def done_at(self, idx: np.ndarray) -> np.ndarray: ...


def termination_error(
    model: HeldOutModel, samples: int = 256, rng: np.random.Generator | None = None
) -> tuple[int, float, float] | None:
    """One-step termination error of ``model`` on held-out real transitions: (terminal transitions
    used, recall = fraction of them predicted terminal, false alarm = fraction of as many
    non-terminal ones predicted terminal). None until a held-out episode has ended in a terminal
    transition. ``model.done_at(idx)``: its predicted done for the replay transitions ``idx``."""
    b, rng = model.buffer, rng or np.random.Generator(np.random.PCG64(0))
    cand = heldout(b, model.holdout_every, b.t - 1)
    done = b.dones[cand % b.capacity].astype(bool)
    if not done.any() or done.all():
        return None
    ends, others = (
        rng.choice(c, size=min(samples, len(c)), replace=False) for c in (cand[done], cand[~done])
    )
    return len(ends), float(model.done_at(ends).mean()), float(model.done_at(others).mean())


class RollsOut(HeldOutModel, Protocol):
    def rollout(
        self, obs: np.ndarray, actions: np.ndarray, key: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...  # states (B, k, ...), rewards, dones

    def state_error(self, predicted: np.ndarray, truth: np.ndarray) -> float: ...


def k_step_error(
    model: RollsOut, k: int, samples: int = 128, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Open-loop errors at steps 1..k of every learned model, from held-out real states under the
    recorded actions: the model's own state error (``state_error``) and the mean absolute reward
    error. None until a held-out episode has k steps."""
    b = model.buffer
    rng = rng or np.random.Generator(np.random.PCG64(0))
    idx = heldout_starts(b, k, model.holdout_every, samples, rng)
    if idx is None:
        return None
    steps = idx[:, None] + np.arange(k)
    states, rewards, _ = model.rollout(b.observations(idx), b.actions[steps % b.capacity], idx)
    state_err = np.array(
        [model.state_error(states[:, j], b.observations(idx + j + 1)) for j in range(k)]
    )
    return state_err, np.abs(rewards - b.rewards[steps % b.capacity]).mean(0)
