"""Planning shapes, the perfect model and the update rules of Dyna-DQN."""

import numpy as np
import pytest

from dynaworld.config import EnvConfig, load_config, parse_shape
from dynaworld.envs import make_env
from dynaworld.envs.snapshots import EmulatorStates
from dynaworld.errors import ConfigError
from dynaworld.models import ReplayModel, ReplayWriter
from dynaworld.models.perfect import PerfectModel, replay_sim
from dynaworld.planning import ImaginedReplay, RolloutSampler
from dynaworld.replay import ReplayBuffer, UniformSampler
from dynaworld.types import Batch, Prediction, Query, Transition

GAMES = [
    EnvConfig(id="ALE/Breakout-v5", sticky_actions=0.25, max_episode_steps=200),
    EnvConfig(id="MinAtar/Asterix-v1"),
    EnvConfig(id="MinAtar/Seaquest-v1"),
]


def record(cfg: EnvConfig, steps: int, seed: int = 0):
    """A real run stored the way training stores it: frames + emulator states in the replay buffer."""
    env = EmulatorStates(make_env(cfg))
    shape = env.observation_space.shape
    buf = ReplayBuffer.for_observation(
        shape, np.uint8, 1000, stacked=cfg.id.startswith("ALE/"), sim=True
    )
    model = ReplayWriter(buf, sim=replay_sim)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        a = int(rng.integers(env.action_space.n))
        nxt, r, term, trunc, info = env.step(a)
        model.add(
            Transition(
                obs,
                a,
                float(np.sign(r)),
                nxt,
                bool(term or info.get("terminal_for_learning")),
                term or trunc,
                info,
            )
        )
        obs = env.reset()[0] if term or trunc else nxt
    return buf, ReplayModel(buf)


@pytest.mark.parametrize("cfg", GAMES, ids=lambda c: c.id)
def test_perfect_model_rebuilds_what_the_real_environment_showed(cfg):
    buf, replay = record(cfg, 400)
    q = UniformSampler(buf, 64, seed=1).sample()
    truth = replay.step(q)  # the stored r, s' of the real run
    pred = PerfectModel(cfg, seed=5).step(q)  # the emulator stepped from the stored states
    np.testing.assert_array_equal(
        pred.next_obs, truth.next_obs
    )  # the whole 4-frame stack for Atari
    np.testing.assert_array_equal(pred.reward, truth.reward)
    np.testing.assert_array_equal(pred.done, truth.done)


def test_perfect_model_k_step_rollout_follows_the_real_trajectory():
    cfg = GAMES[0]
    buf, _ = record(cfg, 300)
    i = int(np.flatnonzero(buf.valid(np.arange(100)) & buf.valid(np.arange(10, 110)))[0])
    m = PerfectModel(cfg, seed=3)
    obs, states = buf.observations(np.array([i])), buf.sim[[i]]
    for j in range(10):
        pred = m.step(Query(obs, buf.actions[[i + j]], sim=states))
        np.testing.assert_array_equal(pred.next_obs[0], buf.observations(np.array([i + j + 1]))[0])
        obs, states = pred.next_obs, pred.sim


class CountingModel:
    def __init__(self):
        self.calls = []

    def update(self, t):
        pass

    def step(self, q: Query) -> Prediction:
        self.calls.append(len(q.action))
        n = len(q.action)
        return Prediction(
            np.zeros(n, np.float32), q.obs + 1, np.zeros(n, bool), np.ones(n, np.int64)
        )


class RandomAgent:
    def policy(self, obs, eps, rng):
        return rng.integers(3, size=len(obs))


@pytest.mark.parametrize("shape", ["100x1", "33x3", "10x10", "1x100"])
def test_a_phase_is_k_batched_model_calls(shape):
    n, k = parse_shape(shape)
    buf = ReplayBuffer(500, (2,), np.float32)
    buf.start_episode(np.zeros(2, np.float32))
    for t in range(300):
        buf.add(0, 0.0, False, np.full(2, t + 1, np.float32))
    d, m = RolloutSampler(buf, n, k, 0.1, seed=0), CountingModel()
    for _ in range(k):  # one planning phase
        q = d.sample(RandomAgent())
        pred = m.step(q)
        d.continue_from(q, pred)
    assert m.calls == [n] * k
    # the second call continued from the first call's s' (our model adds 1 to every state)
    assert d.j == 0


def test_shape_parsing():
    assert parse_shape("33x3") == (33, 3) and parse_shape("10×10") == (10, 10)
    for bad in ("0x5", "10", "axb", "3x0"):
        with pytest.raises(ConfigError, match="planning.shape"):
            parse_shape(bad)
    with pytest.raises(ConfigError, match="planning.shape"):
        load_config(
            None, ["planning.model=perfect", "planning.shape=10by10", "env.id=MinAtar/Breakout-v1"]
        )
    with pytest.raises(ConfigError, match="perfect"):
        load_config(None, ["planning.model=perfect", "env.id=CartPole-v1"])


class CountingAgent:
    def __init__(self):
        self.sizes = []

    def update(self, b: Batch):
        self.sizes.append(len(b))


def test_imagined_buffer_makes_the_same_number_of_updates_for_every_shape():
    counts = {}
    for shape in ("100x1", "33x3", "10x10"):
        n, k = parse_shape(shape)
        agent = CountingAgent()
        learner = ImaginedReplay(agent, 1000, 32, 1 / 32, seed=0)
        for _phase in range(8):
            for _ in range(k):
                learner.update(_zeros_batch(n))
        counts[shape] = len(agent.sizes)
        assert set(agent.sizes) == {32}
    assert counts == {
        "100x1": 25,
        "33x3": 24,
        "10x10": 25,
    }  # floor(8 phases * P / 32), P = 100 or 99


def _zeros_batch(n: int) -> Batch:
    return Batch(
        np.zeros((n, 2)),
        np.zeros(n, int),
        np.zeros(n, np.float32),
        np.zeros((n, 2)),
        np.zeros(n, bool),
        np.ones(n, int),
    )


def test_imagined_buffer_resumed_counts_updates_like_an_uninterrupted_one():
    whole, first, second = CountingAgent(), CountingAgent(), CountingAgent()
    a = ImaginedReplay(whole, 1000, 32, 1 / 32, seed=0)
    for _ in range(10):
        a.update(_zeros_batch(33))
    b = ImaginedReplay(first, 1000, 32, 1 / 32, seed=0)
    for _ in range(5):
        b.update(_zeros_batch(33))
    state = b.state_dict()
    c = ImaginedReplay(second, 1000, 32, 1 / 32, seed=0)
    c.load_state_dict(state)
    for _ in range(5):
        c.update(_zeros_batch(33))
    assert len(first.sizes) + len(second.sizes) == len(whole.sizes) == 10


def test_dyna_and_dqn_extra_updates_make_the_same_number_of_updates():
    from dynaworld.build import build

    common = [
        "env.id=MinAtar/Breakout-v1",
        "total_steps=600",
        "replay.learning_starts=200",
        "progress=false",
        "planning.shape=10x10",
        "planning.period=4",
    ]
    out = {}
    for model in ("replay", "perfect"):
        c = build(load_config(None, [*common, f"planning.model={model}"]))
        out[model] = c.loop.run()
    assert out["replay"].agent_updates == out["perfect"].agent_updates == 100 + 100 * 100 // 32 // 1
    assert out["perfect"].model_transitions == 100 * 100  # 100 phases x 100 transitions
    assert out["replay"].model_transitions == 0
