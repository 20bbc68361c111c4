import pickle

import gymnasium as gym
import numpy as np
import pytest

from dynaworld.config import EnvConfig
from dynaworld.envs import make_env, register_all
from dynaworld.errors import EnvironmentNotFound

ATARI_100K = dict(sticky_actions=0.0, noop_max=30)


def test_atari_matches_gymnasium_preprocessing():
    """Our one-class Atari pipeline shows the same frames as Gymnasium's wrappers."""
    register_all()
    ours = make_env(EnvConfig(id="ALE/Pong-v5", sticky_actions=0.0, noop_max=0), train=False)
    ref = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
    ref = gym.wrappers.AtariPreprocessing(ref, noop_max=0, frame_skip=4, screen_size=84)
    ref = gym.wrappers.FrameStackObservation(ref, 4)
    o1, _ = ours.reset(seed=3)
    o2, _ = ref.reset(seed=3)
    assert o1.shape == (4, 84, 84) and o1.dtype == np.uint8
    np.testing.assert_array_equal(o1, np.asarray(o2))
    rng = np.random.default_rng(0)
    for _ in range(300):
        a = int(rng.integers(6))
        o1, r1, t1, _, _ = ours.step(a)
        o2, r2, t2, _, _ = ref.step(a)
        np.testing.assert_array_equal(o1, np.asarray(o2))
        assert r1 == r2 and t1 == t2


def test_atari_training_signals_only_in_training():
    cfg = EnvConfig(id="ALE/Breakout-v5", **ATARI_100K)
    train, evalenv = make_env(cfg, train=True), make_env(cfg, train=False)
    for env in (train, evalenv):
        env.reset(seed=0)
    rng = np.random.default_rng(0)
    seen_life_loss = seen_big_reward = False
    for _ in range(2000):
        a = int(rng.integers(4))
        _, r, term, trunc, info = train.step(a)
        assert r in (-1.0, 0.0, 1.0)
        if info["life_loss"]:
            seen_life_loss = True
            assert info["terminal_for_learning"] and not term  # the game goes on
        if term or trunc:
            train.reset()
        _, r2, term2, trunc2, info2 = evalenv.step(a)
        assert "terminal_for_learning" not in info2
        seen_big_reward |= r2 > 1
        if term2 or trunc2:
            assert "episode" in info2
            evalenv.reset()
    assert seen_life_loss


def test_atari_episode_cap():
    env = make_env(EnvConfig(id="ALE/Pong-v5", max_episode_steps=50, **ATARI_100K))
    env.reset(seed=0)
    for _i in range(50):
        _, _, term, trunc, info = env.step(0)
    assert trunc and not term and info["episode"]["l"] == 50


def test_atari_snapshot_continues_identically_with_sticky_actions():
    env = make_env(EnvConfig(id="ALE/Pong-v5", sticky_actions=0.25))
    env.reset(seed=1)
    for _ in range(40):
        env.step(2)
    clone = pickle.loads(pickle.dumps(env))
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = int(rng.integers(6))
        x, y = env.step(a), clone.step(a)
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:4] == y[1:4]


@pytest.mark.parametrize("game", ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"])
def test_minatar_games(game):
    env = make_env(f"MinAtar/{game}-v1")
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.ndim == 3 and obs.shape[1:] == (10, 10)
    assert env.observation_space.shape == obs.shape
    for _ in range(20):
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()


def test_vector_env_float32():
    env = make_env("CartPole-v1")
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (4,)


@pytest.mark.parametrize(
    "bad, suggestion",
    [
        ("ALE/Pnog-v5", "ALE/Pong-v5"),
        ("MinAtar/Breakuot-v1", "MinAtar/Breakout-v1"),
        ("CartPol-v1", "CartPole-v1"),
    ],
)
def test_unknown_id_names_closest(bad, suggestion):
    with pytest.raises(EnvironmentNotFound) as e:
        make_env(bad)
    assert bad in str(e.value) and suggestion in str(e.value)


def test_missing_rom_is_a_clear_error():
    from dynaworld.envs.atari import AtariEnv

    with pytest.raises(EnvironmentNotFound, match="no Atari ROM for game 'not_a_game'"):
        AtariEnv("not_a_game")


def test_a_cartpole_env_imports_no_minatar_and_a_typo_still_gets_every_familys_closest_ids():
    """MinAtar's package imports seaborn, scipy and matplotlib: seconds a CartPole run skips."""
    import subprocess
    import sys

    code = (
        "import sys; from dynaworld.config import EnvConfig; from dynaworld.envs import make_env; "
        "make_env(EnvConfig(id='CartPole-v1')); "
        "print([m for m in ('minatar', 'seaborn', 'scipy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
    with pytest.raises(EnvironmentNotFound, match="MinAtar/Breakout-v1"):
        make_env(EnvConfig(id="MinAtar/Breakoutt-v1"))
