"""Algorithm 1 of the lecture: model-based reinforcement learning, and nothing else.

    for K iterations:
        for M interactions:   a ← π(s);  r, s' ← E(a);  m, d ← UPDATEMODEL;  π, v ← UPDATEAGENT;  s ← s'
        for P planning steps: s̃, ã ← d;  r̃, s̃' ← m(s̃, ã);  π, v ← UPDATEAGENT(s̃, ã, r̃, s̃')

Every algorithm in dynaworld is a setting of ``run``:

=====================  ======================================  =========================
setting                planning                                learn_from_real
=====================  ======================================  =========================
model-free             ``[]`` (no m, P = 0)                    True
DQN (replay = model)   ``[Planning(ReplayModel, Uniform, P)]`` False
                       (its UPDATEMODEL: ``data=[ReplayWriter]``)
Dyna                   replay planning + a model's planning    False (or True)
purely model-based     a learned model's planning only         False
=====================  ======================================  =========================

World Models is the same ``run`` with a population agent (its setting is
``dynaworld.worldmodels.setting``): E is an ``EpisodeEnvironment``, so the M real interactions of
an iteration are M whole episodes (rollouts); UPDATEMODEL is a ``refit`` of V and M on all rollouts
so far, once per iteration; and a planning step is one CMA-ES generation of C (``Evolution``), its
candidates scored in M's dream (or on E itself, CarRacing's experiment 1):

=====================  ======================================  =========================
setting                iteration k's real rollouts (π)          planning steps P
=====================  ======================================  =========================
World Models, K = 1    first_M = data.rollouts, random actions  es.generations, from 0
iterative, K > 1       k > 1: M = iterate.rollouts, C_(k-1)     es.generations, from C_(k-1)
=====================  ======================================  =========================

Episodes played without learning (evaluation, GIFs, World Models' rollouts, data and a CMA-ES
generation on E) go through ``dynaworld.episodes.play_episodes``, this loop's batched variant.

A planning step is one *batched* call of m: the sampler returns a batch of (s̃, ã) and the agent
updates on the whole batch. Rollouts of k steps (planning shape n×k) are samplers that continue
from the model's last s̃' (``continue_from``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dynaworld.errors import DynaworldError
from dynaworld.types import Batch, Prediction, Query, Transition


class Learner(Protocol):
    def update(self, batch: Batch) -> int | None: ...  # UPDATEAGENT; returns updates made (None: 1)


class Agent(Learner, Protocol):
    def act(self, obs: np.ndarray) -> int: ...  # π


class Model(Protocol):
    """m of Algorithm 1 (``dynaworld.models``; a learned one: ``models.base.LearningModel``)."""

    def update(self, transition: Transition) -> None: ...  # UPDATEMODEL (m) with a real transition

    def step(self, query: Query) -> Prediction: ...  # r̃, s̃' ← m(s̃, ã), batched


class Data(Protocol):
    def add(self, transition: Transition) -> None: ...  # D ← D ∪ {(s, a, r, s')}


class Sampler(Protocol):
    """d: draws (s̃, ã) from D, so its UPDATEMODEL is D's (``data``)."""

    def sample(self, agent: Any) -> Query: ...  # s̃, ã ← d

    def continue_from(self, query: Query, prediction: Prediction) -> None: ...


@dataclass
class LoopState:
    """Counters and the current real state s: all a resumed run needs from the loop itself."""

    iteration: int = 0
    env_steps: int = 0
    agent_updates: int = 0
    model_transitions: int = 0  # transitions answered by models other than the replay buffer
    episodes: int = 0
    iteration_start: int = 0  # env_steps when this iteration began
    obs: np.ndarray | None = None


Schedule = Callable[[LoopState], int]  # P: planning steps due after this iteration


@dataclass(frozen=True)
class Ratio:
    """The rate schedule: ``per_step`` events per real step once ``start`` real steps are done
    (0.25: one every 4th step). Stateless — ``between(t0, t)`` = floor(r·(t − start)) −
    floor(r·(t0 − start)) counts the events in real steps (t0, t] — so any M works and a resumed
    run schedules exactly like an uninterrupted one. Planning steps (as a ``Schedule``), the
    learned models' UPDATEMODEL and the imagined replay's agent updates all run on it."""

    per_step: float
    start: int = 0

    def between(self, before: int, now: int) -> int:
        b, n = max(0, before - self.start), max(0, now - self.start)
        return math.floor(self.per_step * n + 1e-9) - math.floor(self.per_step * b + 1e-9)

    def __call__(self, state: LoopState) -> int:  # the planning steps due after this iteration
        return self.between(state.iteration_start, state.env_steps)


def every(period: int, steps: int, start: int = 0) -> Schedule:
    """``steps`` planning steps every ``period`` real steps (after ``start``)."""

    def scheduled(state: LoopState) -> int:
        return steps if state.env_steps > start and state.env_steps % period == 0 else 0

    return scheduled


@dataclass
class Planning:
    """One source of planning: model m, sampler d and the schedule P.

    ``learner`` (optional) is how model transitions reach the agent, e.g. an imagined replay
    buffer that the agent trains from; by default each planning step's batch is one update.
    """

    model: Model
    sampler: Sampler
    steps: Schedule
    learner: Learner | None = None
    name: str = "model"  # 'replay': the replay buffer, whose answers are not model transitions

    def plan(self, pi: Agent, st: LoopState) -> None:
        """The planning steps due now (``steps``), each one batched call of m."""
        learner = self.learner or pi
        for _ in range(self.steps(st)):
            q = self.sampler.sample(pi)  # s̃, ã ← d
            pred = self.model.step(q)  # r̃, s̃' ← m(s̃, ã)
            self.sampler.continue_from(q, pred)
            n = learner.update(Batch.from_model(q, pred))  # π, v ← UPDATEAGENT(s̃, ã, r̃, s̃')
            st.agent_updates += 1 if n is None else n
            if self.name != "replay":  # the replay buffer's answers are DQN's own minibatches
                st.model_transitions += len(q.action)


class Planner(Protocol):
    """A source of planning steps: ``Planning`` (m, d, P), or ``Evolution`` for a population agent."""

    def plan(self, pi: Any, st: LoopState) -> None: ...  # the P planning steps due now


class Refit(Protocol):
    """UPDATEMODEL once per iteration on all of D (World Models' V and M), after the interactions."""

    def refit(self, st: LoopState) -> None: ...


@runtime_checkable
class EpisodeEnvironment(Protocol):
    """E when an interaction is one whole real episode (World Models' rollouts): ``play`` has π
    play ``episodes`` episodes and writes them to D."""

    def play(self, pi: Any, episodes: int, st: LoopState) -> None: ...


class LoopCallback(Protocol):
    """What the loop calls: after each real step, and after each iteration (True stops it). A
    user's callbacks are ``dynaworld.callbacks.Callback``, called by the training run."""

    def on_step(self, transition: Transition, state: LoopState) -> None: ...

    def on_iteration(self, state: LoopState) -> bool | None: ...  # True stops the loop


@dataclass
class Loop:
    """Algorithm 1 with its inputs named as in the lecture."""

    environment: Any  # E: Gymnasium API (an interaction: one step), or an EpisodeEnvironment
    agent: Any  # π, v: an Agent; World Models' a population agent's holder
    planning: Sequence[
        Planner
    ] = ()  # (m, d, P) pairs or a population's Evolution; empty: model-free
    data: Sequence[Data] = ()  # D: where real transitions are kept (a replay buffer's writer)
    K: int = 1  # iterations
    M: int = 1  # real interactions per iteration
    first_M: int | None = None  # iteration 1's, if not M (World Models' random rollouts)
    refit: Sequence[Refit] = ()  # UPDATEMODEL once per iteration, on all of D
    learn_from_real: bool = False  # line 12: UPDATEAGENT on each real transition
    callbacks: Sequence[LoopCallback] = ()
    state: LoopState = field(default_factory=LoopState)

    def run(self) -> LoopState:
        E, pi, st = self.environment, self.agent, self.state
        models = _unique([p.model for p in self.planning if isinstance(p, Planning)])
        _check_filled(models, self.data)
        episodic = isinstance(E, EpisodeEnvironment)
        if episodic and (self.data or self.learn_from_real):  # no setting that does nothing
            raise DynaworldError(
                "Loop.data and learn_from_real act on single steps; an EpisodeEnvironment's play "
                "writes its episodes to D itself (leave them empty, or give a step environment)"
            )
        if st.obs is None and not episodic:
            st.obs, _ = E.reset()  # get initial state s ← E
        while st.iteration < self.K:
            st.iteration_start = st.env_steps
            M = self.first_M if st.iteration == 0 and self.first_M is not None else self.M
            if episodic:  # an interaction is one whole episode (World Models' rollouts)
                E.play(pi, M, st)  # M real episodes of π, written to D
            else:
                assert st.obs is not None
                for _ in range(M):
                    s = st.obs
                    a = pi.act(s)  # a ← π(s)
                    s2, r, terminated, truncated, info = E.step(a)  # r, s' ← E(a)
                    t = Transition(
                        s,
                        a,
                        float(r),
                        s2,
                        bool(terminated or info.get("terminal_for_learning")),
                        bool(terminated or truncated),
                        info,
                    )
                    for D in self.data:
                        D.add(t)  # D ← D ∪ {(s, a, r, s')}: what m learns from and d draws from
                    for m in models:
                        m.update(t)  # m ← UPDATEMODEL(s, a, r, s')
                    if self.learn_from_real:
                        n = pi.update(Batch.from_transition(t))  # π, v ← UPDATEAGENT(s, a, r, s')
                        st.agent_updates += 1 if n is None else n
                    st.env_steps += 1
                    st.episodes += t.episode_end
                    st.obs = E.reset()[0] if t.episode_end else s2  # s ← s'
                    for cb in self.callbacks:
                        cb.on_step(t, st)
            for u in self.refit:
                u.refit(st)  # m ← UPDATEMODEL(D), once per iteration
            for p in self.planning:
                p.plan(pi, st)  # the P planning steps due
            st.iteration += 1
            if any([cb.on_iteration(st) for cb in self.callbacks]):
                break
        return st


class PopulationAgent(Protocol):
    """UPDATEAGENT of a population method (CMA-ES): it learns from whole-episode returns of
    candidate parameter vectors, not from transitions (``agents.cmaes.CMAES``)."""

    @property
    def generation(self) -> int: ...  # planning steps made so far (a resumed agent keeps them)

    def ask(self) -> np.ndarray: ...  # (population, n) candidates

    def tell(self, candidates: np.ndarray, returns: np.ndarray) -> dict[str, Any]: ...


Fitness = Callable[[np.ndarray, int], np.ndarray]  # (P, n) candidates, generation -> (P,) returns


@dataclass
class Evolution:
    """Planning for a population agent π: each planning step is one generation, its candidates
    asked of π, scored by ``fitness`` (in m's dream, or on E) and told back, until π has made
    ``P`` (a resumed π starts at the generation it reached)."""

    fitness: Fitness
    P: int
    on_generation: Callable[[dict[str, Any]], None] | None = None

    def plan(self, pi: PopulationAgent, st: LoopState | None = None) -> None:
        while pi.generation < self.P:
            candidates = pi.ask()
            row = pi.tell(candidates, self.fitness(candidates, pi.generation + 1))
            if self.on_generation is not None:
                self.on_generation(row)


def _check_filled(models: list[Any], data: Sequence[Data]) -> None:
    """UPDATEMODEL of a model that learns from a replay buffer reads D: each real transition goes
    into D (``data``) before the models are updated with it, so every buffer a learning model
    reads must be one that ``data`` fills — refused, before any step, otherwise."""
    filled = {id(getattr(D, "buffer", None)) for D in data}
    for m in models:
        buffer = getattr(m, "buffer", None)
        if buffer is not None and not getattr(m, "frozen", False) and id(buffer) not in filled:
            raise DynaworldError(
                f"{type(m).__name__} learns from a replay buffer that no Loop.data writer fills: "
                "add ReplayWriter(that buffer) to data (D ← D ∪ {t} runs before UPDATEMODEL)"
            )


def _unique(items: list[Any]) -> list[Any]:
    seen: dict[int, Any] = {}
    for x in items:
        seen.setdefault(id(x), x)
    return list(seen.values())
