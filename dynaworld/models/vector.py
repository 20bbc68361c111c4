"""Models m on vector states (classic control): the base they share and their common settings.

Every vector model learns (s, a) → (Δs, r, done) from the real transitions of the replay buffer,
with the pixel model's contract (``PixelModel``): ``update`` (UPDATEMODEL) trains at the model's
own schedule, skipping held-out episodes; ``step`` answers a batch of (s̃, ã) at once;
``k_step_error`` measures open-loop error on held-out episodes. The base holds what they share:

* normalisation: inputs (s − μ_s)/σ_s and one-hot a; targets (Δs − μ_Δ)/σ_Δ, (r − μ_r)/σ_r and
  done ∈ {0, 1}, refreshed from the training data every ``refit_every`` real steps;
* the schedule: models that refit on their data (``minibatch = False``: linear, exact GP) do so
  every ``refit_every`` steps; the others take ``updates_per_step`` minibatch steps per real step;
* prediction: a subclass answers normalised means (and variances) of [Δs, r, P(done)]; the base
  turns them into s̃', r̃ and done (P > 0.5).

``frame_error`` in model_error.csv is, for vector states, the mean absolute state error in units
of each dimension's standard deviation in the training data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dynaworld.loop import Ratio
from dynaworld.models.heldout import (
    holdout_mask,
    k_step_error,
    training_indices,
)
from dynaworld.registry import ModelContext
from dynaworld.replay import ReplayBuffer
from dynaworld.types import Prediction, Query, Transition

_NORM = ("obs_mean", "obs_std", "delta_mean", "delta_std", "reward_mean", "reward_std")


class VectorModel:
    """The shared base of the vector-state models (see the module docstring)."""

    minibatch = True  # False: refit on the training data every refit_every steps instead
    frozen = False

    def __init__(
        self,
        buffer: ReplayBuffer,
        obs_dim: int,
        n_actions: int,
        seed: int,
        device: torch.device | str = "cpu",
        batch_size: int = 32,
        updates_per_step: float = 0.25,
        start: int = 1000,
        holdout_every: int = 10,
        refit_every: int = 500,
    ) -> None:
        self.buffer, self.obs_dim, self.n_actions = buffer, obs_dim, n_actions
        self.device = torch.device(device)
        self.batch_size, self.start = batch_size, start
        self.schedule = Ratio(updates_per_step, start)  # minibatch updates per real step
        self.holdout_every, self.refit_every = holdout_every, refit_every
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.steps = self.updates = self.n_train = 0
        self.last_loss = math.nan
        one, zero = np.ones(obs_dim, np.float32), np.zeros(obs_dim, np.float32)
        self.norm = {
            "obs_mean": zero,
            "obs_std": one,
            "delta_mean": zero,
            "delta_std": one,
            "reward_mean": np.zeros(1, np.float32),
            "reward_std": np.ones(1, np.float32),
        }

    @property
    def n_in(self) -> int:
        return self.obs_dim + self.n_actions

    @property
    def n_out(self) -> int:  # Δs, r, done
        return self.obs_dim + 2

    # ------------------------------------------------------------------ UPDATEMODEL
    def update(self, transition: Transition) -> None:
        self.steps += 1
        if self.frozen or self.steps <= self.start:
            return
        if (self.steps - self.start - 1) % self.refit_every == 0 or self.n_train == 0:
            self.refit()
        if not self.minibatch or self.n_train == 0:
            return
        for _ in range(self.schedule.between(self.steps - 1, self.steps)):
            self.last_loss = self.train_batch(self.training_indices(self.batch_size))
            self.updates += 1

    def training_indices(self, n: int) -> np.ndarray:
        return training_indices(self.buffer, n, self.rng, self.holdout_every)

    def training_pool(self) -> np.ndarray:
        """Every stored transition of the episodes that are not held out, oldest first."""
        b = self.buffer
        idx = np.arange(b.oldest, max(b.oldest, b.t - 1))
        return idx[b.valid(idx) & ~holdout_mask(b, idx, self.holdout_every)]

    def refit(self) -> None:
        pool = self.training_pool()
        if len(pool) == 0:
            return
        obs, _, rew, nxt, _ = self.arrays(pool)
        delta = nxt - obs
        floor = np.float32(1e-6)
        self.norm = {
            "obs_mean": obs.mean(0),
            "obs_std": np.maximum(obs.std(0), np.float32(1e-3)),
            "delta_mean": delta.mean(0),
            "delta_std": np.maximum(delta.std(0), floor),
            "reward_mean": rew.mean(keepdims=True),
            "reward_std": np.maximum(rew.std(keepdims=True), floor),
        }
        self.n_train = len(pool)
        self.fit(pool)
        if not self.minibatch:
            self.updates += 1

    # ------------------------------------------------------------------ subclass hooks
    def fit(self, pool: np.ndarray) -> None:
        """Called at every refit, after the normalisation, with the training transitions
        ``pool``: linear and exact GP refit here, the sparse GP places its inducing points."""

    def train_batch(self, idx: np.ndarray) -> float:
        """One minibatch step on the transitions ``idx``; returns the loss."""
        raise NotImplementedError

    def forward(
        self, x: torch.Tensor, var: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Normalised inputs (B, n_in) → means of [Δs, r, P(done)] (B, n_out) and, if ``var``,
        the variances of [Δs, r] (B, obs_dim + 1), normalised."""
        raise NotImplementedError

    def predict_normalised(
        self, obs: np.ndarray, action: np.ndarray, key: np.ndarray | None, state: Any
    ) -> tuple[torch.Tensor, Any]:
        """Means of [Δs, r, P(done)] and the recurrent state of s̃' (memoryless models: none)."""
        return self.forward(self.inputs(obs, action))[0], None

    # ------------------------------------------------------------------ data
    def arrays(self, idx: np.ndarray) -> tuple[np.ndarray, ...]:
        """s, a, r, s', done of the transitions ``idx`` (float32 states)."""
        b, slots = self.buffer, idx % self.buffer.capacity
        obs = b.observations(idx).astype(np.float32)
        nxt = b.observations(idx + 1).astype(np.float32)
        return obs, b.actions[slots], b.rewards[slots], nxt, b.dones[slots].astype(np.float32)

    def tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(self.device)

    def inputs(self, obs: np.ndarray, action: np.ndarray) -> torch.Tensor:
        n = self.norm
        s = self.tensor((np.asarray(obs, np.float32) - n["obs_mean"]) / n["obs_std"])
        a = F.one_hot(
            torch.as_tensor(np.asarray(action), device=self.device).long(), self.n_actions
        )
        return torch.cat([s, a.float()], -1)

    def targets(
        self, obs: np.ndarray, rew: np.ndarray, nxt: np.ndarray, done: np.ndarray
    ) -> torch.Tensor:
        n = self.norm
        d = (nxt - obs - n["delta_mean"]) / n["delta_std"]
        r = (rew[..., None] - n["reward_mean"]) / n["reward_std"]
        return self.tensor(np.concatenate([d, r, done[..., None]], -1))

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised inputs and targets of the transitions ``idx``."""
        obs, act, rew, nxt, done = self.arrays(idx)
        return self.inputs(obs, act), self.targets(obs, rew, nxt, done)

    def decode(
        self, obs: np.ndarray, mean: torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised means → s̃', r̃ and P(done)."""
        n, m = self.norm, mean.detach().float().cpu().numpy()
        d = self.obs_dim
        nxt = np.asarray(obs, np.float32) + m[:, :d] * n["delta_std"] + n["delta_mean"]
        r = m[:, d] * n["reward_std"][0] + n["reward_mean"][0]
        return nxt, r.astype(np.float32), np.clip(m[:, d + 1], 0.0, 1.0)

    # ------------------------------------------------------------------ m(s̃, ã)
    @torch.no_grad()
    def predict(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        key: np.ndarray | None = None,
        state: Any = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
        """s̃', r̃, done and the recurrent state of s̃' for a batch."""
        mean, state = self.predict_normalised(obs, action, key, state)
        nxt, r, p_done = self.decode(obs, mean)
        return nxt.astype(np.asarray(obs).dtype), r, p_done > 0.5, state

    @torch.no_grad()
    def predictive(self, obs: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and variance of s' (memoryless models with a variance)."""
        mean, var = self.forward(self.inputs(obs, action), var=True)
        if var is None:
            raise NotImplementedError(f"{type(self).__name__} has no predictive variance")
        nxt, _, _ = self.decode(obs, mean)
        v = var[:, : self.obs_dim].float().cpu().numpy() * self.norm["delta_std"] ** 2
        return nxt, v

    def step(self, query: Query[np.ndarray]) -> Prediction[np.ndarray]:
        nxt, r, done, state = self.predict(query.obs, query.action, query.key, query.state)
        return Prediction(r, nxt, done, np.ones(len(query.action), np.int64), state)

    def rollout(
        self, obs: np.ndarray, actions: np.ndarray, key: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k-step open-loop prediction: states (B, k, d), rewards and dones (B, k) for the
        action sequences ``actions`` (B, k) from ``obs`` (replay indices ``key``, if any)."""
        states, rewards, dones, state = [], [], [], None
        for j in range(actions.shape[1]):
            obs, r, d, state = self.predict(obs, actions[:, j], key if j == 0 else None, state)
            states.append(obs)
            rewards.append(r)
            dones.append(d)
        return np.stack(states, 1), np.stack(rewards, 1), np.stack(dones, 1)

    # ------------------------------------------------------------------ evaluation
    def state_error(self, predicted: np.ndarray, truth: np.ndarray) -> float:
        """Mean |ŝ − s| in units of each dimension's standard deviation."""
        return float((np.abs(predicted - truth) / self.norm["obs_std"]).mean())

    def k_step_error(
        self, k: int, samples: int = 128, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Open-loop state and reward errors at steps 1..k (``heldout.k_step_error``)."""
        return k_step_error(self, k, samples, rng)

    def done_at(self, idx: np.ndarray) -> np.ndarray:
        """Predicted termination of the replay transitions ``idx`` (for ``termination_error``)."""
        b = self.buffer
        return self.predict(b.observations(idx), b.actions[idx % b.capacity], idx)[2]

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "steps": self.steps,
            "updates": self.updates,
            "n_train": self.n_train,
            "norm": {k: torch.from_numpy(v.copy()) for k, v in self.norm.items()},
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.rng.bit_generator.state = d["rng"]
        self.steps, self.updates, self.n_train = (
            int(d["steps"]),
            int(d["updates"]),
            int(d["n_train"]),
        )
        self.norm = {k: d["norm"][k].numpy() for k in _NORM}


class NetworkModel(VectorModel):
    """A vector model with one torch network ``net`` and its ``optimizer``, checkpointed too."""

    net: torch.nn.Module
    optimizer: torch.optim.Optimizer

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        super().load_state_dict(d)
        self.net.load_state_dict(d["net"])
        self.optimizer.load_state_dict(d["optimizer"])


def common_args(ctx: ModelContext) -> dict[str, Any]:
    """The settings every vector model takes, from the run's ``model`` section."""
    mc = ctx.cfg.model
    return dict(
        buffer=ctx.buffer,
        obs_dim=ctx.obs_shape[0],
        n_actions=ctx.n_actions,
        seed=ctx.seed,
        device=ctx.device,
        batch_size=mc.batch_size,
        updates_per_step=mc.updates_per_step,
        start=ctx.cfg.replay.learning_starts,
        holdout_every=mc.holdout_every,
        refit_every=mc.refit_every,
    )
