"""The replay buffer (a frame store) and the samplers d that draw from it.

Each frame is stored once: a stacked observation is rebuilt from the last ``stack`` frames of its
episode (padded with the episode's first frame, as the environment pads), and s' is simply the
next slot. Images are kept as uint8. Per-step emulator states (``sim``, for the perfect model) are optional.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dynaworld import plain
from dynaworld.errors import CheckpointError
from dynaworld.types import Query


class ReplayBuffer:
    def __init__(
        self,
        capacity: int,
        frame_shape: tuple[int, ...],
        frame_dtype: Any = np.uint8,
        stack: int = 1,
        sim: bool = False,
    ) -> None:
        self.capacity, self.stack = capacity, stack
        self.frame_shape = tuple(frame_shape)
        self.frames = np.empty((capacity, *frame_shape), frame_dtype)  # pages fill as data arrives
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.dones = np.zeros(capacity, bool)  # no bootstrap after the transition at this slot
        self.has_next = np.zeros(capacity, bool)  # a transition starts at this slot
        self.episode_start = np.zeros(
            capacity, np.int64
        )  # absolute index of the episode's 1st frame
        self.sim: np.ndarray | None = np.empty(capacity, object) if sim else None
        self.t = 0  # absolute index of the next frame to write

    @classmethod
    def for_observation(
        cls,
        obs_shape: tuple[int, ...],
        obs_dtype: Any,
        capacity: int,
        stacked: bool,
        sim: bool = False,
    ) -> ReplayBuffer:
        """Atari-style stacked frames (stacked=True) store one (H, W) frame per step."""
        if stacked:
            return cls(capacity, obs_shape[1:], obs_dtype, stack=obs_shape[0], sim=sim)
        return cls(capacity, obs_shape, obs_dtype, stack=1, sim=sim)

    # ------------------------------------------------------------------ size
    @property
    def nbytes(self) -> int:
        n = sum(
            a.nbytes
            for a in (
                self.frames,
                self.actions,
                self.rewards,
                self.dones,
                self.has_next,
                self.episode_start,
            )
        )
        return n + (self.sim.nbytes if self.sim is not None else 0)

    def describe(self) -> str:
        f = self.frames
        return (
            f"replay buffer: {self.capacity:,} steps x frame {self.frame_shape} {f.dtype} "
            f"(stack {self.stack}) = {self.nbytes / 2**20:,.1f} MiB"
            + (" + per-step emulator states" if self.sim is not None else "")
        )

    def __len__(self) -> int:
        return min(self.t, self.capacity)

    @property
    def oldest(self) -> int:
        return max(0, self.t - self.capacity)

    # ------------------------------------------------------------------ writing
    def _last_frame(self, obs: np.ndarray) -> np.ndarray:
        return obs[-1] if self.stack > 1 else obs

    def _write(self, obs: np.ndarray, episode_start: int, sim: Any) -> None:
        i = self.t % self.capacity
        self.frames[i] = self._last_frame(obs)
        self.has_next[i] = False
        self.dones[i] = False
        self.episode_start[i] = episode_start
        if self.sim is not None:
            self.sim[i] = sim
        self.t += 1

    def start_episode(self, obs: np.ndarray, sim: Any = None) -> None:
        """Store the first observation of an episode."""
        self._write(obs, self.t, sim)

    def add(
        self, action: int, reward: float, done: bool, next_obs: np.ndarray, sim: Any = None
    ) -> None:
        """Store the transition from the last stored frame and its next observation."""
        if self.t == 0:
            raise RuntimeError("start_episode() must come before add()")
        p = (self.t - 1) % self.capacity
        self.actions[p], self.rewards[p], self.dones[p] = action, reward, done
        self.has_next[p] = True
        self._write(next_obs, int(self.episode_start[p]), sim)

    # ------------------------------------------------------------------ reading
    def exists(self, idx: np.ndarray) -> np.ndarray:
        """Does a complete transition start at absolute index ``idx``?"""
        ok = (idx >= self.oldest) & (idx < self.t - 1)
        return ok & self.has_next[idx % self.capacity]

    def valid(self, idx: np.ndarray) -> np.ndarray:
        """Can ``idx`` be sampled: transition exists and its whole frame stack is still stored."""
        first = np.maximum(idx - (self.stack - 1), self.episode_start[idx % self.capacity])
        return self.exists(idx) & (first >= self.oldest)

    def observations(self, idx: np.ndarray) -> np.ndarray:
        """Stacked observations at absolute indices ``idx`` (shape (B, *obs_shape))."""
        if self.stack == 1:
            return self.frames[idx % self.capacity]
        offsets = np.arange(-(self.stack - 1), 1)
        start = self.episode_start[idx % self.capacity]
        slots = np.maximum(idx[:, None] + offsets, start[:, None]) % self.capacity
        return self.frames[slots]

    def sample_indices(
        self, batch_size: int, rng: np.random.Generator, recent: int | None = None
    ) -> np.ndarray:
        """Uniform over sampleable transitions (of the ``recent`` newest, if given)."""
        hi = self.t - 1
        lo = self.oldest if recent is None else max(self.oldest, hi - recent)
        if hi <= lo:
            raise RuntimeError("the replay buffer holds no complete transition yet")
        idx = rng.integers(lo, hi, size=batch_size)
        bad = ~self.valid(idx)
        for _ in range(1000):
            if not bad.any():
                return idx
            idx[bad] = rng.integers(lo, hi, size=int(bad.sum()))
            bad = ~self.valid(idx)
        raise RuntimeError("could not sample valid transitions from the replay buffer")

    def transitions(
        self, idx: np.ndarray, n_step: int = 1, gamma: float = 0.99
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """n-step return, index of s', done and horizon for transitions starting at ``idx``."""
        ret = np.zeros(len(idx), np.float32)
        done = np.zeros(len(idx), bool)
        horizon = np.zeros(len(idx), np.int64)
        active = np.ones(len(idx), bool)
        for m in range(n_step):
            j = (idx + m) % self.capacity
            ret[active] += np.float32(gamma**m) * self.rewards[j[active]]
            horizon[active] = m + 1
            done[active] = self.dones[j[active]]
            active &= ~done
            if m + 1 < n_step:
                active &= self.exists(idx + m + 1)
        return ret, idx + horizon, done, horizon

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        n = len(self)
        out: dict[str, Any] = {"t": self.t, "capacity": self.capacity}
        for name in ("frames", "actions", "rewards", "dones", "has_next", "episode_start"):
            out[name] = torch.from_numpy(np.ascontiguousarray(getattr(self, name)[:n]))
        if self.sim is not None:
            out["sim"] = plain.encode(list(self.sim[:n]))
        return out

    def load_state_dict(self, d: dict[str, Any]) -> None:
        if int(d["capacity"]) != self.capacity:
            raise ValueError(f"replay capacity {d['capacity']} in checkpoint != {self.capacity}")
        n = len(d["actions"])
        for name in ("frames", "actions", "rewards", "dones", "has_next", "episode_start"):
            getattr(self, name)[:n] = d[name].numpy()
        if self.sim is not None and "sim" in d:
            if not isinstance(d["sim"], list) or len(d["sim"]) != n:
                raise CheckpointError(
                    "the replay's emulator states in this checkpoint are not a list of n"
                )
            self.sim[:n] = plain.decode(d["sim"])
        self.t = int(d["t"])


class UniformSampler:
    """d: (s̃, ã) drawn uniformly from the replay buffer (``recent``: from its newest entries)."""

    def __init__(
        self, buffer: ReplayBuffer, batch_size: int, seed: int, recent: int | None = None
    ) -> None:
        self.buffer, self.batch_size, self.recent = buffer, batch_size, recent
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def sample(self, agent: Any = None) -> Query:
        idx = self.buffer.sample_indices(self.batch_size, self.rng, self.recent)
        b = self.buffer
        sim = b.sim[idx % b.capacity] if b.sim is not None else None
        return Query(b.observations(idx), b.actions[idx % b.capacity], key=idx, sim=sim)

    def continue_from(self, query: Query, prediction: Any) -> None:  # one-step: nothing to continue
        pass

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.rng.bit_generator.state = d["rng"]
