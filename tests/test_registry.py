"""Models by name: the registry, and a user's own model class trained through the CLI."""

import json

import numpy as np
import pytest

from dynaworld.config import TrainConfig, load_config
from dynaworld.errors import ConfigError
from dynaworld.registry import MODELS, ModelContext, make_model, model_spec
from dynaworld.types import Prediction, Query, Transition


class MeanStepModel:
    """A user's model: s̃' = s̃ + the mean real state change, r̃ = the mean real reward."""

    observations = "vector"  # its capabilities, read by the registry
    calls = 0

    def __init__(self, ctx: ModelContext) -> None:
        self.delta = np.zeros(ctx.obs_shape, np.float64)
        self.reward, self.n = 0.0, 0

    def update(self, t: Transition) -> None:  # UPDATEMODEL: running means of real transitions
        self.n += 1
        self.delta += (t.next_obs - t.obs - self.delta) / self.n
        self.reward += (t.reward - self.reward) / self.n

    def step(self, q: Query) -> Prediction:
        n = len(q.action)
        return Prediction(
            np.full(n, self.reward, np.float32),
            (q.obs + self.delta).astype(np.float32),
            np.zeros(n, bool),
            np.ones(n, np.int64),
        )


class NoStep:
    def __init__(self, ctx: ModelContext) -> None:
        pass

    def update(self, t: Transition) -> None:
        pass


class FlatStep(MeanStepModel):
    def step(self, q: Query) -> Prediction:
        p = super().step(q)
        return Prediction(p.reward, p.next_obs.reshape(-1), p.done, p.horizon)  # rows lost


class ClaimsToLearn(MeanStepModel):
    learns = True  # but none of LearningModel's attributes: refused when built, not mid-run


def test_a_users_model_class_trains_through_the_cli(tmp_path, cli):
    run = tmp_path / "run"
    r = cli(
        "train", "configs/dqn_cartpole.yaml", "planning.model=tests.test_registry:MeanStepModel",
        "planning.shape=8x2", "total_steps=600", "replay.learning_starts=200", "eval_every=0",
        "final_eval_episodes=2", "progress=false", "--run-dir", str(run),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((run / "summary.json").read_text())
    # planning every 4 steps after step 200: (600 - 200) / 4 phases of 8 rollouts x 2 steps
    assert summary["model_transitions"] == 100 * 16
    assert "tests.test_registry:MeanStepModel" in (run / "config.yaml").read_text()


def test_capabilities_not_names_decide_and_bad_models_are_named():
    spec = model_spec("tests.test_registry:MeanStepModel")
    assert spec.observations == "vector" and spec.plan == "rollouts" and not spec.learns
    assert {n for n, s in MODELS.items() if s.observations == "vector"} == {
        "linear", "gp", "sparse_gp", "ensemble", "lstm",
    }  # fmt: skip
    with pytest.raises(ConfigError, match="did you mean 'perfect'"):
        load_config(None, ["planning.model=perfekt"], TrainConfig)
    with pytest.raises(ConfigError, match="has no 'Missing'"):
        model_spec("tests.test_registry:Missing")
    with pytest.raises(ConfigError, match="is not installed"):
        model_spec("no_such_package.models:M")
    ctx = ModelContext(TrainConfig(), (4,), 2, None, "cpu", 0)
    with pytest.raises(ConfigError, match=r"no step; a model needs update\(transition"):
        make_model(model_spec("tests.test_registry:NoStep"), ctx)
    with pytest.raises(
        ConfigError, match="declares learns = True but has no buffer, holdout_every"
    ):
        make_model(model_spec("tests.test_registry:ClaimsToLearn"), ctx)
    checked = make_model(model_spec("tests.test_registry:FlatStep"), ctx)
    q = Query(np.zeros((3, 4), np.float32), np.zeros(3, np.int64))
    with pytest.raises(ConfigError, match=r"returned next_obs of shape \(12,\) for 3 queries"):
        checked.step(q)
    assert make_model(model_spec("tests.test_registry:MeanStepModel"), ctx).step(
        q
    ).reward.shape == (3,)
