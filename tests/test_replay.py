import numpy as np
import pytest

from dynaworld.config import EnvConfig
from dynaworld.envs import make_env
from dynaworld.models import ReplayModel, ReplayWriter
from dynaworld.replay import ReplayBuffer, UniformSampler
from dynaworld.types import Transition


def fill(env, buffer, steps, seed=0):
    """Drive env randomly through the loop's data step; return every observation by index."""
    writer, model = ReplayWriter(buffer), ReplayModel(buffer)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    seen = {}
    for _ in range(steps):
        a = int(rng.integers(env.action_space.n))
        nxt, r, term, trunc, info = env.step(a)
        if writer.new_episode:
            seen[buffer.t] = obs
        writer.add(Transition(obs, a, r, nxt, term, term or trunc, info))
        seen[buffer.t - 1] = nxt
        obs = env.reset()[0] if term or trunc else nxt
    return model, seen


@pytest.mark.parametrize("env_id", ["ALE/Breakout-v5", "MinAtar/Breakout-v1"])
def test_stacks_are_rebuilt_exactly_across_episodes_and_wraparound(env_id):
    env = make_env(EnvConfig(id=env_id, max_episode_steps=60, sticky_actions=0.0))
    shape = env.observation_space.shape
    buf = ReplayBuffer.for_observation(
        shape, np.uint8, capacity=150, stacked=env_id.startswith("ALE/")
    )
    model, seen = fill(env, buf, 500)
    assert buf.t > buf.capacity  # wrapped around several times
    idx = np.arange(buf.t - 1)
    ok = buf.valid(idx)
    assert ok.sum() > 100
    for i in idx[ok]:
        np.testing.assert_array_equal(buf.observations(np.array([i]))[0], seen[i])
        np.testing.assert_array_equal(buf.observations(np.array([i + 1]))[0], seen[i + 1])
    # samples only come from valid, still-stored transitions
    q = UniformSampler(buf, 256, seed=0).sample()
    assert buf.valid(q.key).all() and (q.key >= buf.oldest).all()
    pred = model.step(q)
    for k, o2 in zip(q.key, pred.next_obs, strict=True):
        np.testing.assert_array_equal(o2, seen[k + 1])


def test_each_frame_is_stored_once_as_uint8():
    buf = ReplayBuffer(100_000, (84, 84), np.uint8, stack=4)
    assert buf.frames.dtype == np.uint8 and buf.frames.shape == (100_000, 84, 84)
    per_step = buf.nbytes / buf.capacity
    assert 84 * 84 <= per_step < 84 * 84 + 32  # one frame plus a few bytes of bookkeeping
    assert "MiB" in buf.describe()


def test_n_step_returns_match_brute_force():
    env = make_env("CartPole-v1")
    buf = ReplayBuffer(1000, (4,), np.float32)
    fill(env, buf, 400, seed=3)
    gamma, n = 0.9, 4
    idx = np.arange(buf.t - 1)
    idx = idx[buf.valid(idx)]
    ret, nxt, done, horizon = buf.transitions(idx, n, gamma)
    for i, R, j, d, h in zip(idx, ret, nxt, done, horizon, strict=True):
        g, k = 0.0, 0
        while True:
            g += gamma**k * buf.rewards[i + k]
            k += 1
            if buf.dones[i + k - 1] or k == n or not buf.has_next[i + k]:
                break
        assert h == k and j == i + k and d == buf.dones[i + k - 1]
        assert R == pytest.approx(g, rel=1e-6)


def test_emulator_states_and_state_dict_round_trip():
    buf = ReplayBuffer(50, (3,), np.float32, sim=True)
    buf.start_episode(np.zeros(3, np.float32), sim={"s": 0})
    for i in range(1, 70):
        buf.add(i % 2, float(i), i % 13 == 0, np.full(3, i, np.float32), sim={"s": i})
    other = ReplayBuffer(50, (3,), np.float32, sim=True)
    other.load_state_dict(buf.state_dict())
    for name in ("frames", "actions", "rewards", "dones", "has_next", "episode_start"):
        np.testing.assert_array_equal(getattr(buf, name), getattr(other, name))
    assert list(other.sim) == list(buf.sim) and other.t == buf.t
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(40, (3,), np.float32).load_state_dict(buf.state_dict())


def test_recent_sampler_draws_from_the_newest_entries():
    buf = ReplayBuffer(1000, (1,), np.float32)
    buf.start_episode(np.zeros(1, np.float32))
    for i in range(999):
        buf.add(0, 0.0, False, np.full(1, i + 1, np.float32))
    q = UniformSampler(buf, 500, seed=0, recent=100).sample()
    assert q.key.min() >= buf.t - 1 - 100
