"""The dream's reward against real rollouts (``dynaworld worldmodels reward-check``): M's reward
head beside the constant baseline, on real CarRacing rollouts M never trained on."""

import json

import numpy as np
import pytest
import torch

from dynaworld.checkpoint import save_file
from dynaworld.config import load_config
from dynaworld.errors import DynaworldError
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.models.vae import ConvVAE
from dynaworld.studies.worldmodels.reward_check import reward_check, table
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.rollout import DataActing, rollout_task
from dynaworld.worldmodels.run import WorldModelsRun

pytest.importorskip("Box2D")
SETS = ["vae.z_dim=8", "mdn.hidden=16", "mdn.gaussians=2", "mdn.reward_head=true"]


def a_run(folder, bias, reward_head=True):
    """V and M with random weights; M's reward head says ``bias`` whatever it reads."""
    run = WorldModelsRun(load_config(None, SETS, WorldModelsConfig), folder)
    torch.manual_seed(0)
    save_file({"z_dim": 8, "weights": ConvVAE(8).state_dict()}, run.dir / "vae.pt")
    shape = {"z_dim": 8, "action_dim": 3, "hidden": 16, "gaussians": 2, "reward_head": reward_head}
    m = MDNRNN(**shape)
    if reward_head:
        torch.nn.init.zeros_(m.reward.weight)
        torch.nn.init.constant_(m.reward.bias, bias)
    save_file({"shape": shape, "weights": m.state_dict()}, run.m_path(1))
    rewards = np.array([0.5, -0.1, 3.2, -0.1], np.float32)  # M's training data: mean 0.875
    run.encoded_dir(1).mkdir(parents=True)
    wmdata.write_npz(run.encoded_dir(1) / "rollout_0.npz", rewards=rewards)
    return run


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("held_out")
    env = dict(env_id="CarRacing-v3", size=64, max_episode_steps=None, backend="gymnasium")
    rollout_task(env, DataActing(), 7, str(folder / "rollout_0.npz"), 250)
    return folder


def test_an_m_that_predicts_the_mean_reward_scores_exactly_the_baseline(tmp_path, held_out):
    run = a_run(tmp_path / "run", 0.875)
    out = reward_check(run, wmdata.rollout_files(held_out), window=100)
    assert out["steps"] == 250 and out["windows"] == 2
    assert out["baseline_reward"] == pytest.approx(0.875)
    w = out["window_sum"]
    for e in (out["per_step"], w["teacher_forced"], w["open_loop"]):
        assert e["m_mse"] == pytest.approx(e["baseline_mse"], rel=1e-6)
        assert e["m_mae"] == pytest.approx(e["baseline_mae"], rel=1e-6)
    assert json.loads((run.dir / "reward_check.json").read_text()) == json.loads(json.dumps(out))
    assert "open-loop dream (τ 1)" in table(out)
    worse = reward_check(a_run(tmp_path / "off", 5.0), wmdata.rollout_files(held_out))
    assert worse["per_step"]["m_mae"] > worse["per_step"]["baseline_mae"]  # 5 a step is wrong


def test_the_check_refuses_an_m_without_reward_head_and_its_own_training_data(
    cli, tmp_path, held_out
):
    run = a_run(tmp_path / "run", 0.0, reward_head=False)
    with pytest.raises(DynaworldError, match="mdn.reward_head=true"):
        reward_check(run, wmdata.rollout_files(held_out))
    run = a_run(tmp_path / "own", 0.0)
    run.data_dir(1).mkdir()
    (run.data_dir(1) / "rollout_0.npz").write_bytes((held_out / "rollout_0.npz").read_bytes())
    r = cli("worldmodels", "reward-check", str(run.dir), "--rollouts", str(run.data_dir(1)))
    assert r.returncode != 0 and "training data" in r.stderr, r.stderr
