"""One batched model-as-environment: Dyna's n×k rollouts and the dream run on ``ModelEnv``."""

import numpy as np
import torch

from dynaworld.envs.frames import ACTION_SPACES, DOOM
from dynaworld.models.dream import DreamEnv, DreamModel
from dynaworld.models.mdnrnn import MDNRNN, action_vector
from dynaworld.models.model_env import ModelEnv
from dynaworld.planning import RolloutSampler
from dynaworld.replay import ReplayBuffer
from dynaworld.types import Prediction, Query


class Counter:
    """A toy model: s' = s + a, recurrent state counts steps, done when s' >= 5."""

    def step(self, q: Query) -> Prediction:
        nxt = q.obs + q.action
        state = (np.zeros(len(nxt)) if q.state is None else q.state) + 1
        return Prediction(np.ones(len(nxt)), nxt, nxt >= 5, np.ones(len(nxt), int), state=state)


def starts_from(values):
    drawn = []

    def starts(mask):
        k = int(mask.sum())
        obs = np.asarray(values[len(drawn) : len(drawn) + k])
        drawn.extend(obs.tolist())
        return Query(obs, None, key=np.arange(k) + 100)

    return starts, drawn


def test_model_env_restarts_ended_rows_from_starts_and_keeps_the_others():
    starts, drawn = starts_from([0, 3, 0, 0, 0])
    env = ModelEnv(Counter(), starts, 2)
    _, p, ended = env.step(np.array([1, 2]))  # rows: 0 -> 1, 3 -> 5 (ends)
    assert ended.tolist() == [False, True] and drawn == [0, 3]  # restarts are drawn lazily
    q = env.query(np.array([1, 1]))
    assert drawn == [0, 3, 0] and q.obs.tolist() == [1, 0]
    assert q.key.tolist() == [-1, 100]  # fresh rows carry their start's key, others -1
    assert q.state.tolist() == [1, 0]  # a fresh row starts from the zero recurrent state
    assert env.t.tolist() == [1, 0]


def test_without_autoreset_finished_rollouts_leave_the_batch():
    starts, _ = starts_from([4, 0, 2])
    env = ModelEnv(Counter(), starts, 3, autoreset=False, max_steps=4)
    env.restart()
    lengths = np.zeros(3, int)
    while env.running:
        rows = env.rows
        env.step(np.ones(len(rows), int))
        lengths[rows] += 1
    assert lengths.tolist() == [1, 4, 3]  # ends at 5, cut at max_steps 4, ends at 5


def test_dyna_rollouts_and_the_dream_are_model_envs_over_the_loop_model_contract():
    buf = ReplayBuffer(50, (2,), np.float32)
    buf.start_episode(np.zeros(2, np.float32))
    for t in range(20):
        buf.add(0, 0.0, False, np.full(2, t + 1, np.float32))
    assert isinstance(RolloutSampler(buf, 4, 3, 0.0, seed=0).rollouts, ModelEnv)
    torch.manual_seed(0)
    m = MDNRNN(4, 3, 8, 2, done_head=True)
    env = DreamEnv(m, torch.randn(5, 2, 4), 3, observe="zch", reward="survival",
                   action_space=ACTION_SPACES[DOOM])  # fmt: skip
    assert isinstance(env.dreams, ModelEnv) and isinstance(env.model, DreamModel)
    # M behind the contract: step(Query) -> Prediction is M's step, then a draw at tau.
    q = env.dreams.query(torch.tensor([0, 1, 2]))
    g = torch.Generator().manual_seed(1)
    model = DreamModel(m, ACTION_SPACES[DOOM], temperature=1.2, reward="survival", generator=g)
    p = model.step(q)
    heads, state = m.step(q.obs, action_vector(q.action, ACTION_SPACES[DOOM]), q.state)
    g.manual_seed(1)
    torch.testing.assert_close(p.next_obs, MDNRNN.sample(heads, 1.2, g))
    torch.testing.assert_close(p.state[0], state[0])
    assert p.reward.tolist() == [1.0, 1.0, 1.0]
