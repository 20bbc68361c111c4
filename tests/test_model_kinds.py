"""The lecture's model kinds on vector states: linear, GP (exact, sparse), ensemble and LSTM.

Each model is checked on data whose truth is known, then trained inside the Dyna loop.
"""

import csv

import numpy as np
import pytest
import torch

from dynaworld.config import EnvConfig, load_config
from dynaworld.envs import make_env
from dynaworld.errors import ConfigError
from dynaworld.models import ReplayWriter
from dynaworld.models.ensemble import EnsembleModel
from dynaworld.models.heldout import holdout_mask, termination_error
from dynaworld.models.linear import LinearModel
from dynaworld.models.lstm import LSTMModel
from dynaworld.planning import RolloutSampler
from dynaworld.replay import ReplayBuffer
from dynaworld.types import Prediction, Transition
from tests.conftest import CONFIGS

A = np.array([[0.9, 0.2], [-0.1, 0.95]], np.float32)
B = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, -0.1]], np.float32)  # per action
C = np.array([0.5, -1.0], np.float32)
NOISE = 0.01


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(n)


def record(step, episodes, length, dim, seed=0):
    """Episodes of ``step`` under random actions, stored as training stores them."""
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(episodes * (length + 1), (dim,), np.float32)
    replay = ReplayWriter(buf)
    for _ in range(episodes):
        s, hidden = rng.uniform(-1, 1, dim).astype(np.float32), rng.uniform(-1, 1)
        for t in range(length):
            a = int(rng.integers(3))
            s2, r, hidden = step(s, a, hidden, rng)
            replay.add(Transition(s, a, r, s2.astype(np.float32), False, t == length - 1))
            s = s2.astype(np.float32)
    return buf


def linear_system(s, a, hidden, rng):
    return A @ s + B[a] + rng.normal(0, NOISE, 2), float(C @ s + 0.1 * a), hidden


def held_out(buf, every=5):
    idx = np.arange(buf.t - 1)
    return idx[buf.valid(idx) & holdout_mask(buf, idx, every)]


def common(**kw):
    return {"obs_dim": 2, "n_actions": 3, "seed": 0, "start": 0, "holdout_every": 5, **kw}


def models_of_the_linear_system(buf):
    gp = pytest.importorskip("dynaworld.models.gp")
    return {
        "linear": LinearModel(buf, **common()),
        "gp": gp.ExactGPModel(buf, **common(), points=300, iters=50),
        "sparse_gp": gp.SparseGPModel(buf, **common(batch_size=128), inducing=64),
    }


@pytest.mark.parametrize("kind", ["linear", "gp", "sparse_gp"])
def test_linear_model_and_gps_recover_a_known_linear_system(kind):
    buf = record(linear_system, 40, 50, 2)
    model = models_of_the_linear_system(buf)[kind]
    model.refit()
    for _ in range(400 if model.minibatch else 0):
        model.train_batch(model.training_indices(128))
    idx = held_out(buf)
    assert len(idx) > 300
    s, a = buf.observations(idx), buf.actions[idx]
    nxt, r, done, _ = model.predict(s, a)
    err = np.abs(nxt - (s @ A.T + B[a]))  # against the noise-free truth
    mean, var = model.predictive(s, a)
    np.testing.assert_allclose(mean, nxt, atol=1e-5)
    assert not done.any()
    if kind == "linear":  # least squares recovers A, B and C themselves: exact far from the data
        assert err.max() < 0.005 and np.abs(r - (s @ C + 0.1 * a)).max() < 1e-3
        far = np.array([[5.0, -5.0], [-8.0, 3.0]], np.float32)
        far_next, _, _, _ = model.predict(far, np.array([1, 2]))
        np.testing.assert_allclose(far_next, far @ A.T + B[[1, 2]], atol=0.05)
        assert 0.5 * NOISE**2 < var.mean() < 2 * NOISE**2  # the noise, estimated
    else:
        assert err.mean() < 0.01 and np.percentile(err, 95) < 0.03
        assert np.abs(r - (s @ C + 0.1 * a)).mean() < 0.03
        # predictive variance: about the noise near the data, far larger away from it
        assert var.mean() < 10 * NOISE**2
        _, var_far = model.predictive(np.full((4, 2), 20.0, np.float32), np.arange(4) % 3)
        assert var_far.mean() > 5 * var.mean()


def wall_episodes(early: int = 20, late: int = 40) -> ReplayBuffer:
    """Random-walk episodes that end when x crosses 1: ``early`` ones drift right into the wall,
    the ``late`` ones after them keep away from it."""
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(6000, (2,), np.float32)
    replay = ReplayWriter(buf)
    for episode in range(early + late):
        s = rng.uniform(-1, 1, 2).astype(np.float32)
        for t in range(50):
            a = int(rng.choice(3, p=[0.1, 0.2, 0.7])) if episode < early else 0
            s2 = (s + [0.1 * (a - 1), 0.0] + rng.normal(0, NOISE, 2)).astype(np.float32)
            wall = bool(s2[0] > 1)
            replay.add(Transition(s, a, 1.0, s2, wall, wall or t == 49))
            if wall:
                break
            s = s2
    return buf


def test_termination_error_measures_recall_and_false_alarms_on_held_out_transitions():
    gp = pytest.importorskip("dynaworld.models.gp")
    buf = wall_episodes(early=60, late=0)
    model = gp.ExactGPModel(buf, **common(holdout_every=3), points=400, iters=50)
    model.refit()
    idx = held_out(buf, every=3)
    ends = idx[buf.dones[idx]]
    assert len(ends) >= 10
    terminals, recall, false_alarm = termination_error(model, samples=10_000)
    assert terminals == len(ends)  # all of them: the recall is theirs exactly
    assert recall == model.predict(buf.observations(ends), buf.actions[ends], ends)[2].mean()
    assert recall >= 0.7 and false_alarm <= 0.05  # the model learned where the wall is
    # with the terminal transitions left out of its conditioning set it never predicts the wall
    pool = model.training_pool()
    model.fit(pool[~buf.dones[pool]])
    assert termination_error(model, samples=10_000)[1] == 0.0


def test_exact_gp_keeps_rare_terminal_transitions_in_its_conditioning_set():
    """Early episodes end at a wall (x > 1); later ones keep away from it. An exact GP on the
    newest transitions alone would forget that the wall exists."""
    gp = pytest.importorskip("dynaworld.models.gp")
    buf = wall_episodes()
    model = gp.ExactGPModel(buf, **common(holdout_every=1000), points=300, iters=50)
    model.refit()
    pool = model.training_pool()
    done = buf.dones[pool].astype(bool)
    assert 5 <= done.sum() and not done[-300:].any()  # the newest 300 hold no terminal one
    kept = model.gp.train_targets[-1]  # the GP's done targets
    assert int(kept.sum()) == done.sum()
    near = np.array([[0.95, 0.0], [0.98, 0.5], [0.97, -0.5]], np.float32)
    assert model.predict(near, np.array([2, 2, 2]))[2].all()  # a step right crosses x = 1
    assert not model.predict(-near, np.array([2, 2, 2]))[2].any()


def test_ensemble_disagreement_grows_off_distribution():
    def system(s, a, hidden, rng):
        return np.sin(2 * s) + 0.1 * (a - 1) + rng.normal(0, NOISE, 2), float(s[0] * s[1]), hidden

    buf = record(system, 40, 50, 2)
    model = EnsembleModel(buf, **common(batch_size=64), hidden=[64, 64], lr=3e-3)
    model.refit()
    for _ in range(1000):
        model.train_batch(model.training_indices(64))
    idx = held_out(buf)
    s, a = buf.observations(idx), buf.actions[idx]
    nxt, _, _, _ = model.predict(s, a)
    assert np.abs(nxt - (np.sin(2 * s) + 0.1 * (a[:, None] - 1))).mean() < 0.05
    rng = np.random.default_rng(1)
    off = rng.uniform(3, 5, (200, 2)).astype(np.float32) * rng.choice([-1, 1], (200, 2))
    on_d = model.disagreement(s, a)
    off_d = model.disagreement(off, rng.integers(3, size=200))
    assert off_d.mean() > 20 * on_d.mean() and np.median(off_d) > np.percentile(on_d, 99)
    assert (
        model.predictive(off, np.zeros(200, int))[1].mean() > 20 * model.predictive(s, a)[1].mean()
    )


def test_lstm_predicts_a_hidden_velocity_better_than_a_memoryless_model():
    def system(x, a, v, rng):  # only the position x is observed; v must be inferred
        return x + 0.3 * v, 0.0, 0.8 * v + 0.3 * (a - 1)

    buf = record(system, 60, 40, 1)
    lstm = LSTMModel(buf, **common(batch_size=64, obs_dim=1), hidden=32, history=8, lr=3e-3)
    lstm.refit()
    for _ in range(500):
        lstm.train_batch(lstm.training_indices(64))
    memoryless = LinearModel(buf, **common(obs_dim=1))
    memoryless.refit()
    e_lstm, e_memoryless = lstm.k_step_error(5)[0], memoryless.k_step_error(5)[0]
    assert e_lstm[0] < 0.4 * e_memoryless[0]  # one step, after warming up on the history
    assert (e_lstm < e_memoryless).all()  # k steps, carrying its hidden state
    # the history matters: from the same states without it, the LSTM is no better than memoryless
    idx = held_out(buf)
    s, a, truth = buf.observations(idx), buf.actions[idx], buf.observations(idx + 1)
    with_history = np.abs(lstm.predict(s, a, key=idx)[0] - truth).mean()
    without = np.abs(lstm.predict(s, a)[0] - truth).mean()
    assert with_history < 0.5 * without


def test_rollouts_tell_models_which_states_come_from_replay():
    buf = ReplayBuffer(200, (2,), np.float32)
    buf.start_episode(np.zeros(2, np.float32))
    for t in range(150):
        buf.add(0, 0.0, False, np.full(2, t + 1, np.float32))

    class Agent:
        def policy(self, obs, eps, rng):
            return np.zeros(len(obs), int)

    d = RolloutSampler(buf, 4, 3, 0.0, seed=0)
    q = d.sample(Agent())
    np.testing.assert_array_equal(buf.observations(q.key), q.obs)  # fresh: their replay index
    n = len(q.action)
    hc = np.zeros((n, 8), np.float32)
    done = np.array([False, True, False, False])
    d.continue_from(q, Prediction(np.zeros(n), q.obs + 1, done, np.ones(n, int), hc))
    q2 = d.sample(Agent())
    assert (q2.key[[0, 2, 3]] == -1).all() and q2.key[1] >= 0
    np.testing.assert_array_equal(q2.obs[1], buf.observations(q2.key[[1]])[0])
    d.continue_from(q2, Prediction(np.zeros(n), q2.obs, np.zeros(n, bool), np.ones(n, int), hc))
    assert d.sample(Agent()).key is None  # every row continues a rollout


def test_hidden_velocities_variant():
    for game, dims in (
        ("CartPole-v1", [0, 2]),
        ("Acrobot-v1", [0, 1, 2, 3]),
        ("MountainCar-v0", [0]),
    ):
        full, part = make_env(game), make_env(EnvConfig(id=game, hide_velocities=True))
        o_full, o_part = full.reset(seed=3)[0], part.reset(seed=3)[0]
        assert part.observation_space.shape == (len(dims),)
        np.testing.assert_array_equal(o_part, o_full[dims])
        np.testing.assert_array_equal(part.step(1)[0], full.step(1)[0][dims])
    with pytest.raises(ConfigError, match="hide_velocities"):
        load_config(None, ["env.id=Pendulum-v1", "env.hide_velocities=true"])
    with pytest.raises(ConfigError, match="vector observations"):
        load_config(None, ["env.id=MinAtar/Breakout-v1", "planning.model=gp"])


KINDS = ["linear", "gp", "sparse_gp", "ensemble", "lstm"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_restored_model_predicts_and_learns_exactly_like_the_original(kind, tmp_path):
    from dynaworld.config import ModelConfig, TrainConfig
    from dynaworld.registry import MODELS, ModelContext, make_model

    if "gp" in kind:
        pytest.importorskip("gpytorch")
    buf = record(linear_system, 20, 30, 2)
    mc = ModelConfig(batch_size=16, updates_per_step=1.0, refit_every=40, gp_iters=5)
    mc.gp_points, mc.inducing_points, mc.mlp_hidden, mc.lstm_hidden = 100, 16, [16], 16

    def make(seed):
        torch.manual_seed(seed)  # different initial weights: everything must come from the state
        cfg = TrainConfig(model=mc)
        cfg.replay.learning_starts = 10
        return make_model(MODELS[kind], ModelContext(cfg, (2,), 3, buf, "cpu", seed=7))

    t = Transition(np.zeros(2, np.float32), 0, 0.0, np.zeros(2, np.float32), False, False)
    original, restored = make(0), make(1)
    for _ in range(100):
        original.update(t)
    torch.save(original.state_dict(), tmp_path / "m.pt")
    restored.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    idx = np.arange(5, 300, 7)
    s, a = buf.observations(idx), buf.actions[idx]
    for _ in range(2):
        p, q = original.predict(s, a, key=idx), restored.predict(s, a, key=idx)
        for x, y in zip(p, q, strict=True):
            np.testing.assert_array_equal(x, y)
        for _ in range(50):  # both continue: the same minibatches, refits and results
            original.update(t)
            restored.update(t)
    assert original.updates == restored.updates > 0


@pytest.mark.parametrize("kind", KINDS)
def test_each_model_plans_in_a_short_dyna_cartpole_run(kind, tmp_path):
    from dynaworld.training import train

    if "gp" in kind:
        pytest.importorskip("gpytorch")
    hidden = ["env.hide_velocities=true"] if kind == "lstm" else []
    cfg = load_config(
        CONFIGS / "dqn_cartpole.yaml",
        [
            "total_steps=1200",
            "replay.learning_starts=400",
            f"planning.model={kind}",
            "planning.shape=10x5",
            "model.lr=0.001",
            "model.refit_every=200",
            "model.error_every=400",
            "model.error_k=5",
            "model.gp_iters=10",
            "eval_every=600",
            "eval_episodes=2",
            "final_eval_episodes=2",
            "checkpoint_every=600",
            "log_every=400",
            "progress=false",
            "torch_threads=1",
            *hidden,
        ],
    )
    summary = train(cfg, tmp_path)
    assert summary["model_transitions"] == (1200 - 400) // 4 * 50
    with open(tmp_path / "model_error.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["env_steps", "k", "frame_error", "reward_error"]
    assert sorted({int(r["env_steps"]) for r in rows}) == [400, 800, 1200]
    err = {(int(r["env_steps"]), int(r["k"])): float(r["frame_error"]) for r in rows}
    assert len(err) == 15
    # untrained at 400 real steps; trained at the end (errors grow with k)
    assert err[(1200, 1)] < 0.7 * err[(400, 1)]
    assert err[(1200, 1)] < err[(1200, 5)]
    with open(tmp_path / "termination_error.csv", newline="") as f:
        ends = list(csv.DictReader(f))
    assert ends and int(ends[-1]["env_steps"]) == 1200 and int(ends[-1]["terminals"]) > 0
    assert all(0 <= float(e[c]) <= 1 for e in ends for c in ("recall", "false_alarm"))
    with open(tmp_path / "metrics.csv", newline="") as f:
        losses = [r["model_loss"] for r in csv.DictReader(f) if r["model_loss"]]
    assert losses and np.isfinite(float(losses[-1]))  # nan before the model's first update
