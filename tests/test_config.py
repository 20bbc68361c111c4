import time

import pytest

from dynaworld.config import TrainConfig, all_keys, describe, load_config, parse_overrides
from dynaworld.errors import ConfigError
from tests.conftest import CONFIGS


def test_shipped_configs_load():
    for name in ("dqn_cartpole", "dqn_minatar_breakout", "dqn_atari100k_pong"):
        cfg = load_config(CONFIGS / f"{name}.yaml")
        assert cfg.name == name


def test_overrides_are_typed_and_nested():
    cfg = load_config(
        CONFIGS / "dqn_cartpole.yaml",
        [
            "total_steps=5000",
            "agent.lr=1e-3",
            "agent.hidden=[32, 32]",
            "env.sticky_actions=null",
            "agent.double_dqn=true",
        ],
    )
    assert cfg.total_steps == 5000 and isinstance(cfg.total_steps, int)
    assert cfg.agent.lr == pytest.approx(1e-3) and cfg.agent.hidden == [32, 32]
    assert cfg.env.sticky_actions is None and cfg.agent.double_dqn is True
    assert parse_overrides(["a.b.c=1"]) == {"a": {"b": {"c": 1}}}


@pytest.mark.parametrize(
    "override, needle",
    [
        ("agent.lrr=0.1", "unknown config key 'agent.lrr' (did you mean 'agent.lr'?)"),
        ("total_step=10", "did you mean 'total_steps'"),
        ("replay.capasity=10", "did you mean 'replay.capacity'"),
        ("total_steps=ten", "total_steps: expected an integer"),
        ("agent.double_dqn=maybe", "agent.double_dqn: expected true/false"),
        ("agent.lr=-1", "agent.lr: must be > 0"),
        ("agent.gamma=1.5", "agent.gamma: must be in [0, 1]"),
        ("agent.network=resnet", "agent.network: must be one of"),
        ("env=3", "env: expected a mapping"),
        ("nokey", "not of the form key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, needle):
    with pytest.raises(ConfigError) as e:
        load_config(CONFIGS / "dqn_cartpole.yaml", [override])
    assert needle in str(e.value)


def test_cross_field_validation():
    with pytest.raises(ConfigError, match="agent.eps_end"):
        load_config(None, ["agent.eps_start=0.1", "agent.eps_end=0.5"])
    cfg = load_config(None, ["total_steps=100", "replay.learning_starts=200"])
    assert "no update" in cfg.warnings()[0]


def test_every_field_is_documented():
    rows = describe(TrainConfig)
    assert {k for k, _, _ in rows} == set(all_keys(TrainConfig))
    assert all(help.strip() for _, _, help in rows)


def test_cli_rejects_typo_before_any_work(cli, tmp_path):
    t0 = time.time()
    r = cli(
        "train",
        str(CONFIGS / "dqn_minatar_breakout.yaml"),
        "agent.lrr=0.1",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert r.returncode != 0
    assert "unknown config key 'agent.lrr' (did you mean 'agent.lr'?)" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists()  # nothing was started
    assert time.time() - t0 < 30


def test_cli_rejects_unknown_env_id(cli, tmp_path):
    r = cli(
        "train",
        str(CONFIGS / "dqn_atari100k_pong.yaml"),
        "env.id=ALE/Pnog-v5",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert r.returncode != 0
    assert "unknown environment id 'ALE/Pnog-v5'" in r.stderr and "ALE/Pong-v5" in r.stderr
    assert not (tmp_path / "r").exists()


def test_cli_missing_config_file(cli, tmp_path):
    r = cli("train", str(tmp_path / "nope.yaml"))
    assert r.returncode != 0 and "config file not found" in r.stderr


def test_cli_help_lists_commands(cli):
    r = cli("--help")
    assert r.returncode == 0
    for word in ("train", "eval", "config"):
        assert word in r.stdout


def test_the_test_block_of_evaluation_seeds_never_meets_the_validation_block():
    from dynaworld.config.train import eval_seed

    last_validation = eval_seed("validation", 999, 10**9 - 1) + 1_000  # + episodes
    assert last_validation < eval_seed("test", 0, 0) and eval_seed("test", 999, 10**9) < 2**32
    assert load_config(None, ["eval_block=test", "seed=999"]).eval_block == "test"
    with pytest.raises(ConfigError, match="seed: must be < 1,000 with eval_block=test"):
        load_config(None, ["eval_block=test", "seed=1000"])
