"""The learned pixel model, expert datasets and the pretrained model; resuming Dyna runs exactly."""

import json

import numpy as np
import pytest
import torch

from dynaworld.config import EnvConfig, load_config
from dynaworld.errors import DynaworldError
from dynaworld.evaluate import measure_run_model
from dynaworld.models.pixel import ActionConditionalNet, PixelModel
from dynaworld.types import Query
from tests.conftest import CONFIGS
from tests.test_planning import record

TINY = ["progress=false", "eval_episodes=2", "final_eval_episodes=3", "torch_threads=1"]


@pytest.mark.parametrize("shape, frame", [((4, 84, 84), (1, 84, 84)), ((4, 10, 10), (4, 10, 10))])
def test_action_conditional_net_shapes(shape, frame):
    net = ActionConditionalNet(shape, 6, hidden=64)
    f, r, d = net(torch.zeros(3, *shape, dtype=torch.uint8), torch.tensor([0, 1, 5]))
    assert f.shape == (3, *frame) and r.shape == (3,) and d.shape == (3,)


def test_learned_model_learns_minatar_dynamics_and_answers_a_batch_in_one_call():
    torch.manual_seed(0)
    buf, _ = record(EnvConfig(id="MinAtar/Breakout-v1"), 900)
    model = PixelModel(
        ActionConditionalNet((4, 10, 10), 3, 128),
        buf,
        "cpu",
        seed=0,
        lr=1e-3,
        batch_size=64,
        holdout_every=5,
    )
    before = model.k_step_error(3)
    for _ in range(300):
        model.train_batch(model.training_indices(64))
    after = model.k_step_error(3)
    assert before is not None and after is not None
    assert after[0][0] < 0.25 * before[0][0]  # 1-step wrong cells
    assert after[0][0] < 0.02
    calls = []
    model.net.register_forward_hook(lambda *a: calls.append(1))
    obs = buf.observations(np.arange(100, 110))
    pred = model.step(Query(obs, np.zeros(10, int)))
    assert len(calls) == 1 and pred.next_obs.shape == obs.shape and pred.next_obs.dtype == obs.dtype


def test_held_out_episodes_are_never_trained_on():
    from dynaworld.models.heldout import holdout_mask

    buf, _ = record(EnvConfig(id="MinAtar/Breakout-v1"), 900)
    model = PixelModel(
        ActionConditionalNet((4, 10, 10), 3, 32), buf, "cpu", seed=0, holdout_every=3
    )
    idx = model.training_indices(2000)
    assert not holdout_mask(buf, idx, 3).any()
    all_idx = np.arange(buf.t - 1)
    assert holdout_mask(buf, all_idx[buf.valid(all_idx)], 3).any()


def test_collect_model_train_and_frozen_pretrained_model(cli, tmp_path):
    expert = tmp_path / "expert"
    r = cli(
        "train",
        str(CONFIGS / "dqn_minatar_breakout.yaml"),
        "total_steps=1200",
        "replay.learning_starts=500",
        *TINY,
        "--run-dir",
        str(expert),
    )
    assert r.returncode == 0, r.stderr
    data = tmp_path / "data"
    r = cli("collect", str(expert), "--steps", "800", "--out", str(data))
    assert r.returncode == 0, r.stderr
    meta = json.loads((data / "meta.json").read_text())
    assert (
        meta["steps"] == 800
        and meta["env_id"] == "MinAtar/Breakout-v1"
        and list(data.glob("chunk_*.npz"))
    )
    r = cli("collect", str(expert), "--steps", "10", "--out", str(data))
    assert r.returncode != 0 and "already exists" in r.stderr

    def model_train(out, *args):
        config = str(CONFIGS / "dqn_minatar_breakout.yaml")
        return cli("model-train", str(data), config, "model.hidden=64", "--out", str(out), *args)

    model = tmp_path / "model.pt"
    r = model_train(model, "--updates", "60")
    assert r.returncode == 0, r.stderr
    info = json.loads(model.with_suffix(".json").read_text())
    assert info["updates"] == 60 and len(info["k_step_frame_error"]) == 10
    assert 0 <= info["termination"]["recall"] <= 1 and info["termination"]["terminals"] > 0
    weights = torch.load(model, weights_only=True)["model"]["net"]
    # --init with --updates 0 measures a model: the same weights, the same errors
    again = tmp_path / "again.pt"
    r = model_train(again, "--updates", "0", "--init", str(model))
    assert r.returncode == 0, r.stderr
    measured = json.loads(again.with_suffix(".json").read_text())
    for k, v in torch.load(again, weights_only=True)["model"]["net"].items():
        assert torch.equal(v, weights[k])
    assert measured["k_step_frame_error"] == info["k_step_frame_error"]
    assert measured["termination"] == info["termination"]

    from dynaworld.build import build

    cfg = load_config(
        CONFIGS / "dqn_minatar_breakout.yaml",
        [
            "total_steps=900",
            "replay.learning_starts=300",
            "model.hidden=64",
            "planning.model=pretrained",
            "planning.shape=10x10",
            f"planning.model_path={model}",
            *TINY,
        ],
    )
    c = build(cfg)
    st = c.loop.run()
    assert st.model_transitions == 100 * (900 - 300) // 4
    for k, v in c.stateful["planning_model"].net.state_dict().items():
        assert torch.equal(v, weights[k]), f"pretrained weights changed: {k}"

    bad = load_config(
        None,
        [
            "env.id=MinAtar/Breakout-v1",
            "planning.model=pretrained",
            f"planning.model_path={tmp_path / 'missing.pt'}",
        ],
    )
    with pytest.raises(Exception, match="checkpoint not found"):
        build(bad)
    chunk = sorted(data.glob("chunk_*.npz"))[0]
    chunk.write_bytes(chunk.read_bytes()[:100])
    r = model_train(tmp_path / "m2.pt")
    assert r.returncode != 0 and "truncated or corrupt" in r.stderr and str(chunk) in r.stderr


class Crash(Exception):
    pass


@pytest.mark.parametrize(
    "planning",
    [
        ["planning.model=perfect", "planning.shape=10x10"],
        [
            "planning.model=learned",
            "planning.shape=33x3",
            "model.hidden=64",
            "model.error_every=400",
        ],
    ],
)
def test_interrupted_dyna_run_resumes_to_the_same_result(tmp_path, planning, monkeypatch):
    from dynaworld import training as T

    cfg = load_config(
        CONFIGS / "dqn_minatar_breakout.yaml",
        [
            "total_steps=1200",
            "replay.learning_starts=300",
            "checkpoint_every=400",
            "eval_every=600",
            *TINY,
            *planning,
        ],
    )
    full = T.train(cfg, tmp_path / "full")

    class CrashAt950:
        def on_step(self, t, st):
            pass

        def on_iteration(self, st):
            if st.env_steps == 950:
                raise Crash

    from dynaworld.loop import Loop

    run = Loop.run
    monkeypatch.setattr(
        Loop,
        "run",
        lambda loop: (setattr(loop, "callbacks", [*loop.callbacks, CrashAt950()]), run(loop))[1],
    )
    with pytest.raises(Crash):
        T.train(cfg, tmp_path / "crashed")
    monkeypatch.undo()
    resumed = T.train(cfg, tmp_path / "crashed", resume=True)
    assert {k: v for k, v in resumed.items() if k != "wall_time_s"} == {
        k: v for k, v in full.items() if k != "wall_time_s"
    }
    if "planning.model=learned" in planning:
        for name in ("model_error.csv", "termination_error.csv"):
            written = (tmp_path / "full" / name).read_text()
            assert len(written.splitlines()) > 1  # measured, not only a header
            assert (tmp_path / "crashed" / name).read_text() == written
        # measured again from the final checkpoint: the same numbers as training logged
        ends = tmp_path / "full" / "termination_error.csv"
        logged = ends.read_text()
        ends.write_text("\n".join(logged.splitlines()[:-1]) + "\n")  # a run without that row
        again = measure_run_model(tmp_path / "full")
        assert ends.read_text() == logged
        last = [r.split(",") for r in (tmp_path / "full" / "model_error.csv").read_text().split()]
        assert again["env_steps"] == 1200
        assert again["frame_error"] == [round(float(r[2]), 6) for r in last if r[0] == "1200"]
    else:
        with pytest.raises(DynaworldError, match="plans with no learned model"):
            measure_run_model(tmp_path / "full")
