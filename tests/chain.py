"""A tiny deterministic chain MDP, a tabular Q agent and a table model, for loop tests."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from dynaworld.types import Batch, Prediction, Query, Transition


class Chain(gym.Env):
    """States 0..n-1 (one-hot); action 1 moves right, 0 left; reward 1 on reaching n-1 (terminal)."""

    def __init__(self, n: int = 8, cap: int = 50) -> None:
        self.n, self.cap = n, cap
        self.observation_space = gym.spaces.Box(0, 1, (n,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self) -> np.ndarray:
        o = np.zeros(self.n, np.float32)
        o[self.s] = 1
        return o

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.s, self.t, self.ret = 0, 0, 0.0
        return self._obs(), {}

    def step(self, a):
        self.s = min(self.n - 1, self.s + 1) if a == 1 else max(0, self.s - 1)
        self.t += 1
        term = self.s == self.n - 1
        r = float(term)
        self.ret += r
        trunc = self.t >= self.cap and not term
        info = {"episode": {"r": self.ret, "l": self.t}} if term or trunc else {}
        return self._obs(), r, term, trunc, info


class TabularQ:
    """Q-learning on one-hot states; any batch (real or imagined) is a list of TD updates."""

    def __init__(
        self, n: int, alpha: float = 0.5, gamma: float = 0.9, eps: float = 0.3, seed: int = 0
    ) -> None:
        self.q = np.zeros((n, 2))
        self.alpha, self.gamma, self.eps = alpha, gamma, eps
        self.rng = np.random.default_rng(seed)
        self.updates: list[Batch] = []

    def act(self, obs: np.ndarray) -> int:
        s = int(obs.argmax())
        if self.rng.random() < self.eps or self.q[s, 0] == self.q[s, 1]:
            return int(self.rng.integers(2))
        return int(self.q[s].argmax())

    def update(self, batch: Batch) -> None:
        self.updates.append(batch)
        for o, a, r, o2, d in zip(
            batch.obs, batch.action, batch.reward, batch.next_obs, batch.done, strict=True
        ):
            s, s2 = int(o.argmax()), int(o2.argmax())
            target = r + (0.0 if d else self.gamma * self.q[s2].max())
            self.q[s, a] += self.alpha * (target - self.q[s, a])

    def optimal(self) -> bool:
        return bool((self.q[:-1, 1] > self.q[:-1, 0]).all())


class TableModel:
    """A learned deterministic model: remembers r, s', done for every (s, a) seen."""

    def __init__(self) -> None:
        self.table: dict[tuple[int, int], tuple[float, np.ndarray, bool]] = {}
        self.calls = 0

    def update(self, t: Transition) -> None:
        self.table[(int(t.obs.argmax()), t.action)] = (t.reward, t.next_obs, t.done)

    def step(self, q: Query) -> Prediction:
        self.calls += 1
        out = [self.table[(int(o.argmax()), int(a))] for o, a in zip(q.obs, q.action, strict=True)]
        return Prediction(
            np.array([r for r, _, _ in out], np.float32),
            np.stack([s for _, s, _ in out]),
            np.array([d for _, _, d in out]),
            np.ones(len(out), np.int64),
        )


class TableSampler:
    """d: uniform over the (s, a) pairs the model has seen."""

    def __init__(self, model: TableModel, batch: int = 4, seed: int = 0) -> None:
        self.model, self.batch = model, batch
        self.rng = np.random.default_rng(seed)

    def update(self, t: Transition) -> None:
        pass

    def sample(self, agent) -> Query:
        keys = list(self.model.table)
        pick = self.rng.integers(len(keys), size=self.batch)
        n = len(next(iter(self.model.table.values()))[1])
        obs = np.zeros((self.batch, n), np.float32)
        obs[np.arange(self.batch), [keys[i][0] for i in pick]] = 1
        return Query(obs, np.array([keys[i][1] for i in pick]))

    def continue_from(self, q, p) -> None:
        pass
