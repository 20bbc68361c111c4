"""Claims: a setting that would silently do nothing is refused for a new run (naming it and the
key that makes it inert), before any work; runs already on disk still evaluate; an experiment's
``dyna_base`` reaches only its Dyna arms."""

import pytest
import yaml

from dynaworld.config import inert_settings, load_config, refuse_inert
from dynaworld.errors import ConfigError
from dynaworld.studies.experiment import Experiment
from tests.conftest import CONFIGS, ROOT


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["planning.shape=10x10"], "planning.shape=10x10 does nothing with planning.model=none"),
        (["planning.period=8"], "planning.period=8 does nothing with planning.model=none"),
        (["planning.update_rule=rollout_step"], "planning.update_rule=rollout_step does nothing with planning.model=none"),  # fmt: skip
        (["model.lr=0.5"], "model.lr=0.5 does nothing with planning.model=none"),
        (["planning.model=perfect", "planning.model_path=m.pt"], "planning.model_path does nothing with planning.model=perfect"),  # fmt: skip
        (["planning.model=replay", "planning.recent=50"], "planning.recent=50 does nothing with planning.start_states=uniform"),  # fmt: skip
        (["planning.model=replay", "planning.update_rule=rollout_step", "planning.real_fraction=0.5"],
         "planning.real_fraction=0.5 does nothing with planning.update_rule=rollout_step"),
    ],
)  # fmt: skip
def test_each_inert_combination_is_named_with_both_keys(overrides, needle):
    cfg = load_config(CONFIGS / "dqn_minatar_breakout.yaml", overrides)
    assert any(needle in s for s in inert_settings(cfg))
    with pytest.raises(ConfigError, match="does nothing"):
        refuse_inert(cfg)


def test_settings_that_are_used_are_not_inert():
    for overrides in (
        [],
        ["planning.model=perfect", "planning.shape=10x10", "planning.period=8"],
        ["planning.model=replay", "planning.start_states=recent", "planning.recent=50"],
        ["planning.model=learned", "model.lr=0.5"],
        ["planning.model=pretrained", "planning.model_path=m.pt"],
    ):
        assert inert_settings(load_config(CONFIGS / "dqn_minatar_breakout.yaml", overrides)) == []
    cfg = load_config(CONFIGS / "dqn_minatar_breakout.yaml", ["planning.model=perfect", "model.lr=0.5"])  # fmt: skip
    assert any("model.lr do nothing with planning.model=perfect" in w for w in cfg.warnings())


def test_dyna_base_reaches_the_dyna_arms_only_and_shipped_experiments_have_no_inert_run(tmp_path):
    specs = Experiment.load(ROOT / "experiments/model_kinds.yaml").runs(tmp_path, seeds=1)
    by_method = {r.method: r.cfg for r in specs if r.suite == "cartpole"}
    assert by_method["dqn"].planning.shape == "100x1" and by_method["dqn"].model.lr != 0.001
    assert by_method["gp"].planning.shape == "20x5" and by_method["gp"].model.lr == 0.001
    for name in ("model_kinds", "model_relaxation", "planning_shape", "planning_shape_pilot"):
        for r in Experiment.load(ROOT / f"experiments/{name}.yaml").runs(tmp_path, seeds=1):
            assert inert_settings(r.cfg) == [], (name, r.method)


def test_a_sweep_with_an_inert_arm_is_refused_before_any_run(cli, tmp_path):
    exp = yaml.safe_load((ROOT / "experiments/planning_shape.yaml").read_text())
    exp["base"]["planning"]["shape"] = "10x10"  # the DQN arm would ignore it
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(exp))
    r = cli("sweep", str(tmp_path / "e.yaml"), "--out", str(tmp_path / "out"), "--suite", "minatar")
    assert r.returncode != 0, r.stderr
    assert "minatar/Asterix/dqn: planning.shape=10x10 does nothing with planning.model=none" in r.stderr  # fmt: skip
    assert not (tmp_path / "out").exists()
