"""The perfect model: the emulator itself, stepped from the state stored with each observation."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynaworld.config import EnvConfig
from dynaworld.envs import make_env
from dynaworld.envs.atari import AtariEnv
from dynaworld.envs.snapshots import get_state, set_state
from dynaworld.registry import ModelContext
from dynaworld.types import Prediction, Query, Transition


def replay_sim(t: Transition, first: bool) -> Any:
    """What the replay buffer stores per step for the perfect model (see EmulatorStates)."""
    return t.info["start_state"] if first else t.info["emulator_state"]


class PerfectModel:
    """m(s, a) = what the game does: restore s's emulator state (and frame stack), act, observe.

    Emulators step one state at a time, but one ``step`` call answers a whole batch, so rollouts
    call the model k times per planning phase. Training-time signals apply (clipped rewards,
    life-loss terminals), exactly as the agent sees real transitions.
    """

    def __init__(self, env_cfg: EnvConfig, seed: int = 0) -> None:
        self.sim = make_env(env_cfg, train=True)
        self.sim.reset(seed=seed)
        u = self.sim.unwrapped
        self.game = None if isinstance(u, AtariEnv) else u.game  # type: ignore[attr-defined]

    def _minatar_step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """What MinAtar's Gymnasium env and our observation wrapper do, minus the wrapper layers."""
        assert self.game is not None
        reward, done = self.game.act(self.sim.unwrapped.action_set[action])  # type: ignore[attr-defined]
        obs = np.ascontiguousarray(self.game.state().transpose(2, 0, 1), dtype=np.uint8)
        return obs, float(reward), bool(done), False, {}

    def update(self, transition: Transition) -> None:  # a perfect model has nothing to learn
        pass

    def step(self, query: Query[np.ndarray]) -> Prediction[np.ndarray]:
        if query.sim is None:
            raise ValueError(
                "the perfect model needs emulator states: sample from a buffer that stores them"
            )
        n = len(query.action)
        rewards = np.zeros(n, np.float32)
        done = np.zeros(n, bool)
        ended = np.zeros(n, bool)
        next_obs = np.empty_like(query.obs)
        states = np.empty(n, object)
        step = self._minatar_step if self.game is not None else self.sim.step
        for i in range(n):
            set_state(self.sim, query.sim[i], query.obs[i])
            o, r, term, trunc, info = step(int(query.action[i]))
            next_obs[i], rewards[i] = o, r
            done[i] = term or info.get("terminal_for_learning", False)
            ended[i] = trunc and not term
            states[i] = get_state(self.sim)
        return Prediction(rewards, next_obs, done, np.ones(n, np.int64), sim=states, ended=ended)


def from_context(ctx: ModelContext) -> PerfectModel:
    return PerfectModel(ctx.cfg.env, seed=ctx.seed)
