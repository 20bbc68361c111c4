"""Claims: any Gymnasium env DQN can use works, from Python and the CLI; others are refused."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dynaworld.config import EnvConfig, load_config
from dynaworld.envs import make_env
from dynaworld.errors import ConfigError
from tests.conftest import CONFIGS

SHORT = ["total_steps=300", "replay.learning_starts=100", "eval_every=0", "final_eval_episodes=2",
         "checkpoint_every=150", "progress=false"]  # fmt: skip


@pytest.mark.parametrize(
    "cfg",
    [
        EnvConfig(id="CartPole-v1"),
        EnvConfig(id="CartPole-v1", hide_velocities=True),
        EnvConfig(id="MinAtar/Breakout-v1"),
        EnvConfig(id="ALE/Pong-v5"),
        EnvConfig(id="FrozenLake-v1"),
        EnvConfig(id="CliffWalking-v1"),
        EnvConfig(id="tests.toy_envs:LockedCorridor-v0"),
    ],
    ids=lambda c: c.id + ("-pomdp" if c.hide_velocities else ""),
)
def test_every_env_dynaworld_makes_is_gymnasium_conformant(cfg):
    env = make_env(cfg)
    check_env(env, skip_render_check=True)
    again = gym.make(env.spec)  # the wrappers record their arguments
    assert again.observation_space == env.observation_space
    assert again.action_space == env.action_space


def test_discrete_observations_are_one_hot():
    env = make_env("FrozenLake-v1")
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (16,) and obs.sum() == 1.0 and obs[0] == 1.0


def test_images_become_channels_first_and_get_a_cnn():
    pytest.importorskip("Box2D")
    import torch

    from dynaworld.agents.networks import q_network
    from dynaworld.envs import ChannelsFirst

    env = ChannelsFirst(gym.make("CarRacing-v3", continuous=False))  # 96x96x3 frames
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 96, 96) and obs.dtype == np.uint8
    q = q_network("auto", obs.shape, int(env.action_space.n))
    assert q(torch.from_numpy(obs[None])).shape == (1, 5)
    assert q_network("auto", (3, 7, 7), 4)(torch.zeros(1, 3, 7, 7)).shape == (1, 4)  # too small


@pytest.mark.parametrize(
    "env_id, message",
    [
        ("Pendulum-v1", "need Discrete actions"),
        ("Blackjack-v1", "not Tuple"),
    ],
)
def test_spaces_dqn_cannot_use_are_refused_before_any_work(cli, tmp_path, env_id, message):
    with pytest.raises(ConfigError, match=message):
        make_env(env_id)
    d = tmp_path / "run"
    r = cli("train", str(CONFIGS / "dqn_cartpole.yaml"), f"env.id={env_id}", "--run-dir", str(d))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not d.exists()


def test_a_users_env_trains_resumes_and_evaluates_from_the_cli(cli, tmp_path):
    """Discrete(2, start=-1) actions, an unpicklable lock, a module:EnvId id, through the CLI."""
    d = tmp_path / "run"
    r = cli("train", str(CONFIGS / "dqn_cartpole.yaml"), "env.id=tests.toy_envs:LockedCorridor-v0",
            *SHORT, "--run-dir", str(d))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "not fully checkpointed" in r.stdout and "lock" in r.stdout  # said at the start
    r = cli("train", "--resume", str(d), "total_steps=450")
    assert r.returncode == 0 and "resumed from" in r.stdout, r.stderr
    r = cli("eval", str(d), "--episodes", "2")
    assert r.returncode == 0, r.stderr


def test_env_imports_are_recorded_and_never_taken_from_the_run_directory(cli, tmp_path):
    d = tmp_path / "run"
    r = cli("train", str(CONFIGS / "dqn_cartpole.yaml"), "env.id=LockedCorridor-v0", *SHORT,
            "--import", "tests.toy_envs", "--run-dir", str(d))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert load_config(d / "config.yaml").env.imports == ["tests.toy_envs"]
    assert cli("eval", str(d), "--episodes", "1").returncode == 0
    (d / "evil_envs.py").write_text("open('pwned', 'w')\n")
    text = (d / "config.yaml").read_text().replace("tests.toy_envs", "evil_envs")
    (d / "config.yaml").write_text(text)
    r = cli("eval", str(d), "--episodes", "1", cwd=str(d))
    assert r.returncode == 2 and "never imported" in r.stderr, r.stderr
    assert not (d / "pwned").exists()


def test_an_evaluation_episode_that_never_ends_is_cut_at_eval_max_steps():
    """MinAtar Seaquest's greedy submarine can wait at the surface for ever: evaluation must end."""
    from dynaworld.evaluate import evaluate

    class Left:
        def policy(self, obs, epsilon, rng):
            return np.zeros(len(obs), np.int64)

    env = EnvConfig(id="tests.toy_envs:Forever-v0")
    returns = evaluate(Left(), env, episodes=3, epsilon=0.0, seed=0, max_steps=250)
    assert list(returns) == [250.0, 250.0, 250.0]  # cut, the return so far counted
