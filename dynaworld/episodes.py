"""Algorithm 1's real interaction without learning, batched: several episodes in lockstep.

Evaluation, GIFs, World Models' real episodes, rollouts and data, the random policy's returns and
a CMA-ES generation on E all play episodes here; ``Loop.run`` is the only other place a real
environment is stepped. π is an ``EpisodePolicy`` whose acting carries each episode's state
(DreamerV3's ``policy(carry, obs)``); E is ``Episodes`` (Gymnasium envs, or a batched simulator);
sinks see each episode begin, step and end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np


class EpisodePolicy(Protocol):
    """π playing whole episodes, several at once: one row per running episode, each with its own
    carry (M's hidden state, a held random action, an episode's generator; DQN carries nothing)."""

    def start(self, seed: int, episode: int) -> Any: ...  # episode ``episode``'s carry

    def act(
        self, obs: np.ndarray, carry: list[Any]
    ) -> tuple[Sequence[Any], list[Any]]: ...  # a ← π(s)


class Sink(Protocol):
    """Where played episodes go (a rollout file, a GIF's frames); ``episode`` indexes ``seeds``.
    A sink may also have ``end(episode)``, called when the episode has ended."""

    def begin(self, episode: int, obs: Any) -> None: ...

    def step(self, episode: int, action: Any, reward: Any, terminated: bool, obs: Any,
             done: bool) -> None: ...  # fmt: skip


Stepped = tuple[Any, float, bool, bool]  # one slot's step: (s', r, terminated, truncated)


class Episodes(Protocol):
    """E as slots of real episodes stepped together: ``EnvList`` (one Gymnasium env a slot) or a
    batched simulator (``envs.envpool_carracing.CarRacingGroups``: a CMA-ES generation)."""

    def __len__(self) -> int: ...

    def reset(self, slot: int, seed: int) -> Any: ...  # s ← E: a new episode in ``slot``

    def step(
        self, slots: Sequence[int], actions: Sequence[Any]
    ) -> Sequence[Stepped]: ...  # r, s' ← E(a)


@dataclass
class EnvList:
    """Gymnasium environments as ``Episodes``: slot j is ``envs[j]``."""

    envs: Sequence[Any]

    def __len__(self) -> int:
        return len(self.envs)

    def reset(self, slot: int, seed: int) -> Any:
        return self.envs[slot].reset(seed=seed)[0]

    def step(self, slots: Sequence[int], actions: Sequence[Any]) -> list[Stepped]:
        out = []
        for j, a in zip(slots, actions, strict=True):
            obs, r, terminated, truncated, _ = self.envs[j].step(a)
            out.append((obs, r, terminated, truncated))
        return out


@dataclass
class PerEpisode:
    """An ``EpisodePolicy`` from a factory: ``make(seed)`` is a new episode's actor, ``actor(obs) -> a``."""

    make: Callable[[int], Callable[[Any], Any]]

    def start(self, seed: int, episode: int) -> Any:
        return self.make(seed)

    def act(self, obs: np.ndarray, carry: list[Any]) -> tuple[Sequence[Any], list[Any]]:
        return [actor(o) for actor, o in zip(carry, obs, strict=True)], carry


class FramesSeen:
    """A ``Sink`` keeping one frame before each action: ``frame(obs)`` at an episode's start and
    after every step that does not end it (the first ``limit``; the observation by default)."""

    def __init__(
        self, frame: Callable[[Any], Any] = lambda obs: obs, limit: int | None = None
    ) -> None:
        self.frame, self.limit, self.frames = frame, limit, cast(list[Any], [])

    def begin(self, episode: int, obs: Any) -> None:
        self._keep(obs)

    def step(self, episode: int, action: Any, reward: Any, terminated: bool, obs: Any,
             done: bool) -> None:  # fmt: skip
        if not done:
            self._keep(obs)

    def _keep(self, obs: Any) -> None:
        if self.limit is None or len(self.frames) < self.limit:
            self.frames.append(self.frame(obs))


def play_episodes(
    envs: Sequence[Any] | Episodes,
    policy: EpisodePolicy,
    seeds: Sequence[int],
    max_steps: int | None = None,
    sinks: Sequence[Sink] = (),
    on_end: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Algorithm 1's real interaction without learning: episode i starts from
    ``E.reset(seed=seeds[i])``; up to ``len(envs)`` episodes run in lockstep (``envs``: Gymnasium
    envs or ``Episodes``), π acting on all of them in one call and E stepping all of them in one
    call; one still running after ``max_steps`` steps is cut. Returns each episode's return (the
    sum of E's rewards) in the order the episodes ended."""
    E = EnvList(envs) if isinstance(envs, Sequence) else envs
    n, started, returns = min(len(E), len(seeds)), 0, []
    index, obs, carry = [0] * n, cast(list[Any], [None] * n), cast(list[Any], [None] * n)
    steps, sums = [0] * n, [0.0] * n
    ends = [e for s in sinks if callable(e := getattr(s, "end", None))]

    def start(j: int) -> None:
        nonlocal started
        index[j], started = started, started + 1
        obs[j] = E.reset(j, seeds[index[j]])  # s ← E
        carry[j] = policy.start(seeds[index[j]], index[j])
        for sink in sinks:
            sink.begin(index[j], obs[j])

    for j in range(n):
        start(j)
    live = list(range(n))
    while live:
        actions, carried = policy.act(np.stack([obs[j] for j in live]), [carry[j] for j in live])
        stepped = E.step(live, actions)  # r, s' ← E(a)
        still = []
        for j, a, c, (o, r, terminated, truncated) in zip(live, actions, carried, stepped, strict=True):  # fmt: skip
            carry[j], obs[j] = c, o
            steps[j], sums[j] = steps[j] + 1, sums[j] + float(r)
            done = bool(terminated or truncated) or (max_steps is not None and steps[j] >= max_steps)  # fmt: skip
            for sink in sinks:
                sink.step(index[j], a, r, bool(terminated), o, done)
            if not done:
                still.append(j)
                continue
            returns.append(sums[j])
            for end in ends:
                end(index[j])
            if on_end is not None:
                on_end(index[j], sums[j])
            steps[j], sums[j] = 0, 0.0
            if started < len(seeds):
                start(j)
                still.append(j)
        live = still
    return returns
