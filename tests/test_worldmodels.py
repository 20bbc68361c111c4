"""World Models: data on disk, V, M, the dream, C, CMA-ES and the pipeline, on tiny real budgets."""

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc

import gymnasium as gym
import numpy as np
import pytest
import torch
from PIL import Image

from dynaworld.agents.cmaes import evolve, generations_made, load_state, new_es
from dynaworld.agents.controller import Controller
from dynaworld.checkpoint import load_file
from dynaworld.config import load_config, to_dict
from dynaworld.envs.envpool_carracing import CarRacingGroups, EnvpoolCarRacing
from dynaworld.errors import CheckpointError, ConfigError, DynaworldError
from dynaworld.models.dream import DreamEnv, dream_returns
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.models.vae import ConvVAE
from dynaworld.studies.worldmodels import table as wm_report
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels import fit
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.pipeline import Pipeline
from dynaworld.worldmodels.rollout import collect, controller_for, real_episode
from dynaworld.worldmodels.run import C_HOW, WorldModelsRun, changes
from tests.conftest import run_isolated

pytest.importorskip("Box2D")
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
TINY = [
    "env.max_episode_steps=30", "data.rollouts=3", "data.max_steps=40", "vae.epochs=1", "vae.batch_size=16",
    "mdn.seq_len=10", "mdn.batch_size=4", "mdn.steps=5", "mdn.hidden=32",
    "es.popsize=4", "es.rollouts=1", "es.generations=2", "es.max_steps=20", "es.eval_every=2",
    "es.eval_rollouts=2", "eval_episodes=2", "es.workers=2",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny real pipeline: CarRacing rollouts, V, encoded data, M (no controller yet)."""
    d = tmp_path_factory.mktemp("wm")
    cfg = load_config(None, TINY, WorldModelsConfig)
    Pipeline(cfg, d, progress=False).run(["collect", "train_v", "encode", "train_m"])
    return d


def test_the_reference_data_policy_drives_each_episode_its_own_way():
    env = gym.make("CarRacing-v3")  # only its action space is used
    drives = []
    for seed in (0, 0, 1):
        act = wmdata.DataPolicy(
            env.action_space, "reference", wmdata.SHORT_HOLDS, np.random.default_rng(seed)
        )
        frame = np.zeros((64, 64, 3), np.uint8)
        drives.append(np.stack([act(frame) for _ in range(50)]))
    assert np.array_equal(drives[0], drives[1]) and not np.allclose(drives[0], drives[2])
    low, high = env.action_space.low, env.action_space.high
    assert all(((d >= low) & (d <= high)).all() and d.std(0).max() > 0 for d in drives)
    with pytest.raises(ConfigError, match="data.policy='reference'"):
        doom = ["env.id=VizdoomTakeCover-v1", "data.policy=reference"]
        load_config(None, doom, WorldModelsConfig).validate()
    with pytest.raises(ConfigError, match="data.policy"):
        load_config(None, ["data.policy=referense"], WorldModelsConfig)


def test_long_holds_mix_into_short_ones_and_without_them_the_draws_are_unchanged():
    short = [wmdata.SHORT_HOLDS.draw(np.random.default_rng(s)) for s in range(200)]
    assert short == [int(np.random.default_rng(s).integers(1, 11)) for s in range(200)]
    rng = np.random.default_rng(0)
    mixed = np.array([wmdata.Hold(10, 0.1, 100).draw(rng) for _ in range(20_000)])
    assert mixed.min() == 1 and mixed.max() == 100
    assert abs((mixed > 10).mean() - 0.1 * 0.9) < 0.01  # long, and longer than a short one
    with pytest.raises(ConfigError, match="data.hold_long_max=10 is not longer"):
        bad = ["data.hold_long=0.1", "data.hold_long_max=10"]
        load_config(None, bad, WorldModelsConfig).validate()


def test_collect_writes_whole_compressed_rollouts_and_resumes(run_dir):
    files = wmdata.rollout_files(run_dir / "data")
    assert len(files) == 3
    r = wmdata.load_npz(files[0])
    assert r["frames"].dtype == np.uint8 and r["frames"].shape == (31, 64, 64, 3)
    assert r["actions"].shape == (30, 3) and r["rewards"].shape == (30,)
    raw = sum(wmdata.load_npz(f)["frames"].nbytes for f in files)
    assert sum(f.stat().st_size for f in files) < raw / 2  # compressed on disk
    meta = json.loads((run_dir / "data" / "meta.json").read_text())
    assert meta["rollouts"] == 3 and meta["frames"] == 3 * 31
    # A rollout lost mid-write (only a temp file) is made again; finished ones are kept.
    mtime = files[1].stat().st_mtime
    files[0].rename(run_dir / "data" / ".tmp-123-rollout_000000.npz")
    collect(
        "CarRacing-v3",
        run_dir / "data",
        3,
        max_episode_steps=30,
        max_steps=40,
        workers=1,
        progress=False,
    )
    assert files[0].exists() and files[1].stat().st_mtime == mtime
    assert not list((run_dir / "data").glob(".tmp-*"))
    assert np.array_equal(wmdata.load_npz(files[0])["frames"], r["frames"])  # seeded: same rollout


def test_corrupt_rollout_names_the_file(tmp_path):
    bad = tmp_path / "rollout_000000.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DynaworldError, match="rollout_000000.npz"):
        wmdata.load_npz(bad)


def test_frame_stream_holds_only_a_few_rollouts_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for i in range(16):  # 16 rollouts x 300 frames = 59 MB of frames
        frames = np.repeat(base[None], 300, 0)
        frames[:, 0, 0, 0] = np.arange(300) % 256
        frames[:, 0, 0, 1] = i
        wmdata.write_npz(tmp_path / wmdata.PATTERN.format(i), frames=frames, rewards=np.zeros(299))
    files = wmdata.rollout_files(tmp_path)
    total = 16 * 300 * 64 * 64 * 3
    tracemalloc.start()
    seen = 0
    ids = set()
    for batch in wmdata.frame_batches(files, 100, 2, np.random.default_rng(1)):
        seen += len(batch)
        ids.update(zip(batch[:, 0, 0, 1].tolist(), batch[:, 0, 0, 0].tolist(), strict=True))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen == 16 * 300 and len(ids) == 16 * 256  # every frame once
    buffer = 2 * 300 * 64 * 64 * 3  # two rollouts in memory at a time
    assert peak < 2.5 * buffer < total / 3, (
        f"peak {peak / 1e6:.1f} MB for a {total / 1e6:.1f} MB dataset"
    )


def test_v_and_m_stopped_midway_resume_to_the_weights_of_an_uninterrupted_run(run_dir, tmp_path):
    # V stopped inside its second epoch (update 6 of 8, 4 an epoch), M after 3 of 7 updates:
    # each resume sees the batches the uninterrupted run saw at the same updates.
    def train(folder, vae_epochs, mdn_steps):
        cfg = load_config(
            None, TINY + [f"vae.epochs={vae_epochs}", f"mdn.steps={mdn_steps}"], WorldModelsConfig
        )
        run = WorldModelsRun(cfg, folder, record=False)
        fit.train_v(run, progress=False)
        fit.train_m(run, 1, progress=False)

    dirs = {}
    for name in ("whole", "stopped"):
        dirs[name] = tmp_path / name
        shutil.copytree(
            run_dir, dirs[name], ignore=shutil.ignore_patterns("vae*", "mdn*", "tensorboard")
        )
    train(dirs["whole"], 2, 7)
    train(dirs["stopped"], 1.3, 3)
    for done in ("vae.pt", "mdn.pt"):  # as if killed: the checkpoints are what is left
        (dirs["stopped"] / done).unlink()
    train(dirs["stopped"], 2, 7)
    for done in ("vae.pt", "mdn.pt"):
        whole, resumed = (load_file(d / done)["weights"] for d in dirs.values())
        assert all(torch.equal(whole[k], resumed[k]) for k in whole), done
    last = [(d / "mdn_log.csv").read_text().splitlines()[-1] for d in dirs.values()]
    assert last[0] == last[1] and last[0].startswith("7,")


def test_m_sees_every_step_of_an_episode_deaths_included(tmp_path):
    # Windows of L = 10 from 60-step episodes that end in a death: each step, the last included,
    # is in a window with probability ~L/T (1/6), and what runs past the end is masked.
    T, L = 60, 10
    files = []
    for i in range(3):
        wmdata.write_npz(
            tmp_path / f"r{i}.npz",
            mu=np.arange(T + 1, dtype=np.float32)[:, None].repeat(2, 1),
            logvar=np.zeros((T + 1, 2), np.float32),
            actions=np.zeros((T, 3), np.float32),
            rewards=np.ones(T, np.float32),
            terminated=np.arange(T) == T - 1,
        )
        files.append(tmp_path / f"r{i}.npz")
    batches = wmdata.sequence_batches(files, L, 200, 3, np.random.default_rng(0))
    seen, deaths = np.zeros(T), 0
    for _ in range(20):  # 4,000 windows
        b = next(batches)
        assert ((b["terminated"] == 1) <= (b["mask"] == 1)).all()
        deaths += int(b["terminated"].sum())
        for row, m in zip(b["mu"][:, :-1, 0], b["mask"], strict=True):
            seen[row[m == 1].astype(int)] += 1
    assert deaths / 4000 == pytest.approx(L / T, abs=0.03)
    assert seen[L - 1 :].min() / 4000 == pytest.approx(L / T, abs=0.04)


def test_vae_shapes_free_bits_and_learning():
    torch.manual_seed(0)
    v = ConvVAE(z_dim=8)
    x = torch.randint(0, 255, (6, 1, 1, 3), dtype=torch.uint8).expand(6, 64, 64, 3).contiguous()
    mu, logvar = v.encode(x)
    assert mu.shape == logvar.shape == (6, 8) and v.decode(mu).shape == (6, 3, 64, 64)
    loss, parts = v.loss(x, kl_tolerance=0.5)
    assert parts["kl"] < 0.5 * 8 and loss.item() == pytest.approx(parts["recon"] + 4.0, rel=1e-5)
    opt = torch.optim.Adam(v.parameters(), 1e-3)
    first = parts["recon"]
    for _ in range(20):
        loss, parts = v.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert parts["recon"] < 0.75 * first


def test_mdn_temperature_and_learning():
    torch.manual_seed(0)
    m = MDNRNN(z_dim=4, action_dim=2, hidden=16, gaussians=3, reward_head=True, done_head=True)
    heads, _ = m.step(torch.zeros(2000, 4), torch.zeros(2000, 2), m.initial_state(2000))
    cold = MDNRNN.sample(heads, 1e-4)
    warm = MDNRNN.sample(heads, 1.5)
    assert cold.std(0).mean() < 0.05 < warm.std(0).mean()  # tau -> 0: (nearly) the mode's mean
    # M learns a deterministic sequence z_{t+1} = z_t + a_t
    z = torch.cumsum(torch.full((8, 11, 4), 0.1), 1)
    batch = {"mu": z, "logvar": torch.full_like(z, -10.0), "actions": torch.full((8, 10, 2), 0.1),
             "rewards": torch.ones(8, 10), "terminated": torch.zeros(8, 10), "mask": torch.ones(8, 10)}  # fmt: skip
    # lr 3e-3: at 1e-2 the NLL spikes now and then, so the last step's value was seed luck
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    first = m.loss(batch)[1]
    for _ in range(300):
        loss, parts = m.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (
        parts["z_nll"] < first["z_nll"] - 1
        and parts["reward_mse"] < 0.05
        and parts["done_bce"] < 0.1
    )


def test_controller_sizes_and_actions():
    assert Controller(32 + 256).n_params == 867  # the paper's CarRacing C
    assert Controller(32, hidden=40).n_params == 1443  # with a 40-unit hidden layer
    c = Controller(10)
    p = torch.randn(5, c.n_params)
    a = c.act(p, torch.randn(5, 7, 10))
    assert a.shape == (5, 7, 3)
    assert (a[..., 0].abs() <= 1).all() and (a[..., 1:] >= 0).all() and (a[..., 1:] <= 1).all()
    d = Controller(10, "discrete3")
    assert set(d.act(torch.randn(3, d.n_params) * 5, torch.randn(3, 50, 10)).unique().tolist()) <= {
        0,
        1,
        2,
    }
    # Doom: the reference's bands (< -1/3 left, middle no-op, > 1/3 right); a zero C stays put
    from dynaworld.envs.frames import DOOM_BANDS

    doom = Controller(10, "discrete3", bands=DOOM_BANDS)
    bias = torch.zeros(3, doom.n_params)
    bias[:, -1] = torch.tensor([-1.0, 0.0, 1.0])  # tanh(b): below, inside, above the middle band
    noop, right, left = 0, 1, 2  # VizdoomTakeCover-v1's button_map
    assert doom.act(bias, torch.zeros(3, 4, 10)).tolist() == [[left] * 4, [noop] * 4, [right] * 4]


def test_dream_env_is_a_gymnasium_vector_env_and_batches_match_single_rollouts():
    torch.manual_seed(0)
    m = MDNRNN(z_dim=4, action_dim=3, hidden=16, gaussians=3, reward_head=True, done_head=True)
    starts = np.stack([np.zeros((2, 4)), np.ones((2, 4))]).astype(np.float32)
    starts[:, 1] = -20  # logvar: start states (nearly) deterministic
    env = DreamEnv(m, starts, 3, temperature=1.0, observe="zh", max_steps=5)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (3, 4 + 16) and env.observation_space.shape == (3, 20)
    for _ in range(6):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        assert obs.shape == (3, 20) and r.shape == term.shape == trunc.shape == (3,)
    # The batched generation (P x R dreams in one program) equals one rollout at a time.
    cold = DreamEnv(m, starts[:1], 1, temperature=1e-8, observe="zh", max_steps=30)
    c = Controller(20)
    params = torch.randn(4, c.n_params) * 0.5
    batched = dream_returns(cold, c, params, 3, 30, mean=False)
    single = torch.stack([dream_returns(cold, c, params[i : i + 1], 1, 30)[0] for i in range(4)])
    assert torch.allclose(batched[:, 0], single, atol=1e-3) and torch.allclose(
        batched[:, 0], batched[:, 2], atol=1e-3
    )


def _quadratic(params, g):
    return -((params - 0.5) ** 2).sum(axis=1)


def test_dream_env_follows_gymnasium_vector_conventions():
    from dynaworld.envs.worldmodels import ACTION_SPACES, CARRACING, DOOM

    torch.manual_seed(0)
    m = MDNRNN(z_dim=4, action_dim=3, hidden=16, gaussians=3, reward_head=True, done_head=True)
    starts = np.stack([np.zeros((2, 4)), np.ones((2, 4))]).astype(np.float32)
    car = ACTION_SPACES[CARRACING]
    assert car == gym.spaces.Box(np.array([-1, 0, 0]), np.array([1, 1, 1]), dtype=np.float32)
    env = DreamEnv(m, starts, 3, action_space=car, max_steps=5, done="never")
    assert env.single_action_space == car and env.action_space.shape == (3, 3)
    first, _ = env.reset(seed=[1, 2, 3])
    assert np.array_equal(env.reset(seed=[1, 2, 3])[0], first)  # seeds as a list, reproducible
    inside = np.ones((3, 3), np.float32)
    total = np.zeros(3)
    for _ in range(5):
        obs, r, term, trunc, info = env.step(inside)
        total += r
    assert trunc.all() and not term.any() and info["_final_obs"].all()
    assert np.array_equal(info["final_info"]["episode"]["l"], [5, 5, 5])
    assert np.allclose(info["final_info"]["episode"]["r"], total, atol=1e-5)
    env.reset(seed=7)
    a = env.step(inside)[0]
    env.reset(seed=7)
    b = env.step(np.full((3, 3), 5.0, np.float32))[0]  # out of range: clipped to the space
    assert np.array_equal(a, b)
    doom = DreamEnv(m, starts, 2, action_space=ACTION_SPACES[DOOM], done="never")
    doom.reset(seed=0)
    doom.step(np.array([0, 2]))
    with pytest.raises(ValueError, match="not all in Discrete"):
        doom.step(np.array([3, 0]))


def test_cmaes_improves_and_resumes_exactly(tmp_path):
    kw = {"popsize": 8, "sigma0": 0.1, "eval_every": 2, "seed": 3, "progress": False}
    ev = lambda p: _quadratic(p[None], 0)  # noqa: E731
    full = evolve(tmp_path / "a", 5, _quadratic, ev, generations=6, **kw)
    evolve(tmp_path / "b", 5, _quadratic, ev, generations=3, **kw)
    resumed = evolve(tmp_path / "b", 5, _quadratic, ev, generations=6, **kw)
    assert np.array_equal(full["es"].mean, resumed["es"].mean)
    assert resumed["best_eval"] > _quadratic(np.zeros((1, 5)), 0)[0]
    assert len((tmp_path / "b" / "log.csv").read_text().strip().splitlines()) == 1 + 6
    # a C committed without its state (params.npy and log.csv only) still knows its budget
    (tmp_path / "a" / "es.pt").unlink()
    assert generations_made(tmp_path / "a") == 6 and generations_made(tmp_path / "c") == 0
    (tmp_path / "b" / "es.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="es.pt"):
        load_state(tmp_path / "b", _es())


def _es():
    return new_es(5, 0.1, 8, 3, False)


KILL_SCRIPT = """
import sys, time
import numpy as np
from dynaworld.agents.cmaes import evolve
def f(p, g):
    time.sleep(0.3)
    return -((p - 0.5) ** 2).sum(axis=1)
evolve(sys.argv[1], 5, f, lambda p: f(p[None], 0), generations=int(sys.argv[2]), popsize=8,
       eval_every=2, seed=3, progress=False)
"""


def test_killed_cmaes_run_resumes(tmp_path):
    script = tmp_path / "es.py"
    script.write_text(KILL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "k"), "10"])
    deadline = time.time() + 60
    while time.time() < deadline:
        s = load_state(tmp_path / "k", _es()) if (tmp_path / "k" / "es.pt").exists() else None
        if s and s["generation"] >= 3:
            break
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = load_state(tmp_path / "k", _es())["generation"]
    assert 3 <= killed_at < 10
    subprocess.run([sys.executable, str(script), str(tmp_path / "k"), "10"], check=True)
    subprocess.run([sys.executable, str(script), str(tmp_path / "u"), "10"], check=True)
    assert load_state(tmp_path / "k", _es())["generation"] == 10
    assert np.array_equal(
        load_state(tmp_path / "k", _es())["es"].mean, load_state(tmp_path / "u", _es())["es"].mean
    )


def test_pipeline_controller_on_real_carracing_then_report(run_dir, cli):
    assert (run_dir / "vae_recon.png").stat().st_size > 0
    r = cli("worldmodels", "run", "--run-dir", str(run_dir), timeout=300)  # earlier stages skipped
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-2])
    assert out["interact_1"] == {"skipped": True}
    assert out["update_model_1"]["train_v"] == {"skipped": True}
    assert out["agent_1"]["generations"] == 2 and out["evaluate"]["episodes"] == 2
    e = json.loads((run_dir / "C_full" / "eval.json").read_text())
    assert len(e["returns"]) == 2 and e["mean"] == pytest.approx(np.mean(e["returns"]), abs=0.01)
    assert e["budget"] == {"popsize": 4, "rollouts": 1, "generations": 2} and e["es_seed"] == 0
    r = cli("worldmodels", "dream", str(run_dir), "--steps", "5", "--random")
    assert r.returncode == 0 and (run_dir / "dream.gif").exists(), r.stderr
    r = cli("worldmodels", "dream", str(run_dir), "--steps", "5", "--beside-real", "3")
    assert r.returncode == 0, r.stderr
    with Image.open(run_dir / "dream_vs_real.gif") as gif:  # real | 2 px | dream, 3x, captions
        assert gif.size == (3 * (64 + 2 + 64), 3 * 64 + 14) and gif.n_frames == 5  # + captions
    r = cli("report", str(run_dir))  # the general report command knows World Models runs
    assert r.returncode == 0 and "report.md" in r.stdout, r.stderr
    text = (run_dir / "report.md").read_text()
    assert (
        "full World Model, z and h" in text
        and "906 ± 21" in text
        and (run_dir / "cmaes.png").exists()
        and (run_dir / "curve_vs_reference.png").stat().st_size > 0  # beside the published runs
    )
    r = cli("worldmodels", "log", str(run_dir / "C_full"))  # log.csv as a Markdown table
    rows = r.stdout.splitlines()
    assert r.returncode == 0 and "mean of C on 2 held-out episodes" in rows[0], r.stderr
    assert [row.split(" | ")[0] for row in rows[2:]] == ["| 1", "| 2"] and "±" in rows[3]
    r = cli("worldmodels", "log", str(run_dir))
    assert r.returncode == 2 and "has no CMA-ES log.csv" in r.stderr
    # C's record (in a copy: train-c records es.seed in the run's config.yaml, which later
    # commands on run_dir would read): other es settings cannot continue C_full's CMA-ES;
    # es.seed=N is a new repeat in its own folder.
    run_copy = run_dir.parent / "wm_seeds"
    shutil.copytree(run_dir, run_copy)
    record = [(run_copy / f).read_bytes() for f in ("config.yaml", "history.jsonl")]
    r = cli("worldmodels", "train-c", "es.popsize=6", "--run-dir", str(run_copy))
    assert r.returncode == 2 and "es.popsize=4 (now 6)" in r.stderr, r.stderr
    assert [(run_copy / f).read_bytes() for f in ("config.yaml", "history.jsonl")] == record
    r = cli("worldmodels", "train-c", "es.seed=1", "--run-dir", str(run_copy), timeout=300)
    assert r.returncode == 0 and (run_copy / "C_full_seed1" / "params.npy").exists(), r.stderr
    assert not np.array_equal(  # another pycma seed and other tracks: another search
        np.load(run_copy / "C_full_seed1" / "params.npy"),
        np.load(run_dir / "C_full" / "params.npy"),
    )
    # An eval.json names the C it scored: once params.npy changes, the report says it is stale.
    np.save(run_copy / "C_full" / "params.npy", np.load(run_dir / "C_full" / "params.npy") + 1)
    assert cli("report", str(run_copy)).returncode == 0
    text = (run_copy / "report.md").read_text()
    assert "(stale)" in text and "C_full/eval.json` — **stale**" in text, text
    # Two runs of one setting are told apart in the CMA-ES figure's legend by their seed.
    runs = wm_report._training([run_copy], wm_report._evals([run_copy]))
    labels = wm_report.curve_labels(sorted(runs), runs, doom=False)
    assert len(set(labels)) == len(labels) == 2 and labels[1].endswith("es.seed 1"), labels
    # A shared folder without params.npy: the report says it cannot check, not that C changed.
    params = run_copy / "C_full" / "params.npy"
    kept = params.read_bytes()
    params.unlink()
    assert cli("report", str(run_copy)).returncode == 0
    text = (run_copy / "report.md").read_text()
    assert "C_full/eval.json` — params.npy absent" in text and "stale" not in text, text
    params.write_bytes(kept)
    # Commands that read a run leave its config.yaml as it is, so a command started beside them
    # reads the settings the run was made with: an evaluation with other es settings, and an
    # experiment refused because the run has no iteration 2.
    made = (run_copy / "config.yaml").read_bytes()
    r = cli("worldmodels", "evaluate", str(run_copy), "es.seed=0", "--episodes", "1", timeout=300)
    assert r.returncode == 0 and json.loads(r.stdout)["episodes"] == 1, r.stderr
    exp = run_copy / "exp.yaml"
    exp.write_text(
        f"name: e\nconfig: {run_copy / 'config.yaml'}\ncontrollers:\n  - {{es.seed: 2}}\n"
    )
    r = cli("worldmodels", "experiment", str(exp), "--iteration", "2", "--run-dir", str(run_copy))
    assert r.returncode == 2 and "iter2/mdn.pt does not exist" in r.stderr, r.stderr
    assert (run_copy / "config.yaml").read_bytes() == made
    # A run kept without its rollouts (V and M are enough to train C on E): an experiment trains
    # and scores its controllers without collecting or encoding again.
    shutil.rmtree(run_copy / "data")
    shutil.rmtree(run_copy / "encoded")
    exp.write_text(
        f"name: e\nconfig: {run_copy / 'config.yaml'}\ncontrollers:\n  - {{es.seed: 1}}\n"
    )
    r = cli("worldmodels", "experiment", str(exp), "--run-dir", str(run_copy), timeout=300)
    assert r.returncode == 0 and (run_copy / "C_full_seed1" / "eval.json").exists(), r.stderr
    assert not (run_copy / "data").exists() and not (run_copy / "encoded").exists()
    # A C still training (log.csv, no eval.json yet) is drawn beside the published runs; a
    # folder with neither is refused, saying what to run.
    training = run_dir.parent / "wm_training"
    (training / "C_full").mkdir(parents=True)
    for name in ("log.csv", "config.yaml", "cores.json"):
        shutil.copy(run_dir / "C_full" / name, training / "C_full" / name)
    assert cli("worldmodels", "report", str(training)).returncode == 0
    assert "No controller has been evaluated yet" in (training / "report.md").read_text()
    assert (training / "curve_vs_reference.png").stat().st_size > 0
    r = cli("worldmodels", "report", str(training / "C_full"))
    assert r.returncode == 2 and "no eval.json and no CMA-ES log.csv" in r.stderr, r.stderr
    # Other V/M settings in the same run directory are refused, naming them.
    r = cli("worldmodels", "train-m", "mdn.hidden=64", "--run-dir", str(run_dir))
    assert r.returncode == 2 and "(now 64)" in r.stderr and "mdn.hidden=" in r.stderr, r.stderr
    # How a stage runs is not what it made: another number of collectors is accepted.
    r = cli("worldmodels", "collect", "data.workers=1", "--run-dir", str(run_dir))
    assert r.returncode == 0 and '"skipped": true' in r.stdout, r.stderr


def test_controller_evaluation_on_a_local_ray_instance(run_dir, cli):
    pytest.importorskip("ray")
    r = cli(
        "worldmodels",
        "run",
        *TINY,
        "controller.variant=v_only",
        "es.generations=1",
        "--run-dir",
        str(run_dir),
        "--ray",
        "local",
    )  # fmt: skip  (a subprocess: a native crash in Ray fails this test only)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.splitlines()[-2])
    assert out["agent_1"]["generations"] == 1 and out["evaluate"]["variant"] == "v_only"
    assert (run_dir / "C_v_only" / "params.npy").exists()


def test_envpool_backend_gives_the_same_frames_interface(tmp_path):
    pytest.importorskip("envpool")
    run_isolated(envpool_frames_interface, str(tmp_path))


def envpool_frames_interface(tmp: str) -> None:
    from dynaworld.envs.worldmodels import make_wm_env

    env = make_wm_env("CarRacing-v3", backend="envpool", max_episode_steps=5)
    frame, _ = env.reset(seed=3)
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert env.action_space.shape == (3,)
    for _ in range(5):
        frame, r, term, trunc, info = env.step(env.action_space.sample())
    assert trunc and "episode" in info
    meta = collect(
        "CarRacing-v3", tmp, 2, max_steps=10, backend="envpool", workers=1, progress=False
    )
    assert meta["frames"] == 2 * 11


def test_a_batched_generation_scores_every_candidate_as_one_episode_at_a_time_would():
    pytest.importorskip("envpool")
    run_isolated(batched_generation_claims)


def batched_generation_claims() -> None:
    """2 candidates x 3 tracks in lock-step (``CarRacingGroups`` played by ``play_episodes``
    with a population ``WorldModelsPolicy``) give the scores of ``real_episode`` on one envpool
    env per (candidate, track seed)."""
    from dynaworld.episodes import play_episodes
    from dynaworld.worldmodels.rollout import WorldModelsPolicy

    torch.manual_seed(0)
    v, m = ConvVAE(8).eval(), MDNRNN(8, 3, 16, 2).eval()
    c = controller_for("zh", 8, 16, "car", 0)
    params = torch.randn(2, c.n_params) * 0.5
    env = CarRacingGroups(2, 3, seed=11)
    space = EnvpoolCarRacing().action_space
    policy = WorldModelsPolicy(v, m, c, params, "zh", space, per_candidate=3)
    batched = np.zeros(6)
    play_episodes(env, policy, [11 + j for _ in range(2) for j in range(3)], 60, on_end=batched.__setitem__)  # fmt: skip
    batched = batched.reshape(2, 3)
    with pytest.raises(DynaworldError, match="once"):
        env.reset(0, 11)  # a generation's tracks are played once
    one = EnvpoolCarRacing()
    alone = [
        [real_episode(one, v, m, c, p.numpy(), "zh", 11 + j, max_steps=60) for j in range(3)]
        for p in params
    ]
    np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-4)
    assert len(set(np.round(batched[0], 3))) == 3  # three different tracks
    assert env.done.shape == (2, 3) and not env.done.any()  # 60 < 1,000 steps: none ended


def test_world_models_policy_in_lockstep_plays_each_episode_as_alone():
    """V + M + C with exploration, three CarRacing episodes in lockstep (one batched V encode,
    M step and C act a step): each episode's return as when it is played alone."""
    from dynaworld.envs.worldmodels import make_wm_env
    from dynaworld.episodes import play_episodes
    from dynaworld.worldmodels.rollout import WorldModelsPolicy

    torch.manual_seed(0)
    v, m = ConvVAE(8).eval(), MDNRNN(8, 3, 16, 2).eval()
    c = controller_for("zh", 8, 16, "car", 0)
    envs = [make_wm_env("CarRacing-v3") for _ in range(3)]
    params = np.random.default_rng(0).normal(0, 0.5, c.n_params)
    policy = WorldModelsPolicy(v, m, c, params, "zh", envs[0].action_space, (0.3, wmdata.Hold(5)))
    seeds = [21, 22, 23, 24]
    together = play_episodes(envs, policy, seeds, max_steps=30)
    alone = [play_episodes(envs[:1], policy, [s], max_steps=30)[0] for s in seeds]
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-4)
    assert len(set(np.round(alone, 3))) == 4


def test_cmaes_on_envpool_scores_a_generation_batched_as_the_workers_did(run_dir, tmp_path):
    pytest.importorskip("envpool")
    run_isolated(batched_fitness_claims, str(run_dir), str(tmp_path))


def batched_fitness_claims(trained: str, tmp: str) -> None:
    """With env.backend=envpool, C's real fitness is computed in-process and batched
    (``control.population_scores``): the same scores as one worker task per candidate."""
    import shutil
    from pathlib import Path

    from dynaworld.parallel import local_pool
    from dynaworld.worldmodels import control
    from dynaworld.worldmodels.run import WorldModelsRun

    for name in ("vae.pt", "mdn.pt"):
        shutil.copy(Path(trained) / name, Path(tmp) / name)
    run = WorldModelsRun(load_config(None, [*TINY, "env.backend=envpool"], WorldModelsConfig), tmp)
    assert control.batched(run)
    params = np.random.default_rng(0).normal(0, 0.5, (4, control.controller(run).n_params))
    batched = control.population_scores(run, 1)(params, 500, 2, 20)
    pool = local_pool(1)
    try:
        alone = control.real_returns(run, pool, 1, params, [[500, 501]] * 4, 20, training=True)
    finally:
        pool.shutdown()
    np.testing.assert_allclose(batched, alone, rtol=0, atol=1e-4)
    # es.rollouts_from=[[3, 4]]: from generation 3 on, a candidate's fitness is its mean over
    # 4 tracks (g * 10,000 + j) instead of es.rollouts=1
    cfg = load_config(
        None, [*TINY, "env.backend=envpool", "es.rollouts_from=[[3, 4]]"], WorldModelsConfig
    )
    _, fitness, close = control.agent(WorldModelsRun(cfg, tmp), 1, lambda: local_pool(1))
    scores = control.population_scores(run, 1)
    try:
        for g, n in ((2, 1), (3, 4)):
            expected = scores(params, g * 10_000, n, 20).mean(1)
            np.testing.assert_allclose(fitness(params, g), expected, rtol=0, atol=1e-4)
    finally:
        close()


DOOM_TINY = [
    "data.rollouts=3", "data.max_steps=60", "vae.epochs=1", "vae.batch_size=16", "vae.z_dim=8",
    "mdn.seq_len=10", "mdn.batch_size=4", "mdn.steps=5", "mdn.hidden=16", "es.popsize=4",
    "es.rollouts=2", "es.generations=2", "es.max_steps=40", "es.eval_every=2", "es.eval_rollouts=4",
    "eval_episodes=2", "es.workers=1", "env.max_episode_steps=60",
]  # fmt: skip


def test_doom_controller_trained_only_in_the_dream_reports_virtual_and_actual(tmp_path):
    pytest.importorskip("vizdoom")
    run_isolated(doom_dream_claims, str(tmp_path))


def doom_dream_claims(tmp: str) -> None:
    """Run by the test above in a subprocess: a native crash in VizDoom fails that test only."""
    from pathlib import Path

    from dynaworld.studies.worldmodels.controllers import run_experiment

    tmp_path = Path(tmp)
    os.chdir(tmp_path)
    exp = tmp_path / "temps.yaml"
    exp.write_text(
        "name: t\nconfig: %s\ncontrollers:\n  - {es.temperature: 0.1}\n  - {es.temperature: 1.15}\n"
        % (ROOT / "configs" / "worldmodels_doom_small.yaml")
    )
    out = run_experiment(exp, tmp_path / "run", DOOM_TINY, progress=False)
    # the small config samples deaths in the dream; the folder names say so
    assert sorted(out["evals"]) == ["C_full_dream_tau0.1_sampled", "C_full_dream_tau1.15_sampled"]
    e = json.loads((tmp_path / "run" / "C_full_dream_tau1.15_sampled" / "eval.json").read_text())
    assert e["where"] == "dream" and e["episodes"] == 2 and 1 <= e["mean"] <= 60
    assert e["exploitation_gap"] == pytest.approx(e["virtual_mean"] - e["mean"])
    frames = wmdata.load_npz(wmdata.rollout_files(tmp_path / "run" / "data")[0])
    assert frames["frames"].shape[1:] == (64, 64, 3) and frames["actions"].shape[1] == 3  # one-hot
    text = (tmp_path / "run" / "report.md").read_text()
    assert "1092 ± 556" in text and "random policy" in text and "1.15 (deaths sampled)" in text
    assert "Controllers C_k of iteration k = 1, per temperature" in text
    assert "temperature.png" in text and (tmp_path / "run" / "temperature.png").stat().st_size > 0
    assert not list(tmp_path.glob("_vizdoom*"))  # vizdoom's files stay out of the cwd


def test_bad_config_is_refused_by_name():
    with pytest.raises(ConfigError, match="did you mean 'es.popsize'"):
        load_config(None, ["es.popsiz=3"], WorldModelsConfig)
    with pytest.raises(ConfigError, match="reward_head or mdn.done_head"):
        load_config(None, ["es.where=dream"], WorldModelsConfig)


def test_doom_skill_short_episode_filter_and_parity_table(tmp_path):
    pytest.importorskip("vizdoom")
    run_isolated(doom_settings_claims, str(tmp_path))


def doom_settings_claims(tmp: str) -> None:
    from pathlib import Path

    from dynaworld.envs.worldmodels import DOOM, make_wm_env
    from dynaworld.studies.worldmodels.parity import parity

    assert make_wm_env(DOOM, doom_skill=5).unwrapped.game.get_doom_skill() == 5
    assert make_wm_env(DOOM).unwrapped.game.get_doom_skill() == 4  # take_cover.cfg's own
    meta = collect(DOOM, Path(tmp) / "d", 3, max_steps=400, min_steps=120, workers=1,
                          doom_skill=5, progress=False)  # fmt: skip
    steps = [len(wmdata.load_npz(f)["actions"]) for f in wmdata.rollout_files(Path(tmp) / "d")]
    assert all(n > 120 or n == 400 for n in steps) and meta["min_steps"] == 120
    out = parity(Path(tmp) / "p", [None, 5], episodes=2, progress=False)
    assert len(out["rows"]) == 10 and (Path(tmp) / "p.json").exists()
    table = (Path(tmp) / "p.md").read_text()
    assert "doom_skill take_cover.cfg (4)" in table and "210 ± 108" in table


def test_carracing_report_pools_cmaes_seeds_and_tests_the_papers_ordering(tmp_path):
    """Repeats C_<variant>_seed<N> share a row (per-seed means, CI over seeds); each pair of
    variants gets Welch's test on the per-seed means, Holm-corrected over the pairs."""
    from dynaworld.studies.worldmodels.table import report

    rng = np.random.default_rng(0)
    for variant, centre in (("v_only", 300), ("v_hidden", 450), ("full", 600)):
        for s in range(3):
            folder = tmp_path / (f"C_{variant}" + (f"_seed{s}" if s else ""))
            folder.mkdir()
            r = rng.normal(centre + 10 * s, 50, 100)
            e = {"variant": variant, "episodes": 100, "mean": r.mean(), "std": r.std(),
                 "budget": {"popsize": 16, "rollouts": 4, "generations": 20}}  # fmt: skip
            (folder / "eval.json").write_text(json.dumps({**e, "returns": r.tolist()}))
    text = report([tmp_path]).read_text()
    full = next(line for line in text.splitlines() if line.startswith("| full World Model"))
    assert full.count("±") == 4 and "(n=3)" in full  # three seeds' mean ± std, then the paper's
    assert full.startswith("| full World Model, z and h, 16 × 4, 20 gen. (validation block) |")
    tests = [line for line in text.splitlines() if " vs " in line]
    assert len(tests) == 3 and all(len(t.split("|")) == 6 for t in tests)
    assert any(
        t.startswith("| full World Model, z and h vs V model only, z input, hidden") for t in tests
    )
    assert all(float(t.split("|")[2]) > 100 for t in tests)  # the higher variant first


def test_a_c_record_older_than_a_setting_resumes_with_that_settings_default():
    # A C folder written before es.dream_models existed was made with its default (one model):
    # resuming it is no change; another value of the new setting is one.
    cfg = to_dict(WorldModelsConfig())
    old = copy.deepcopy(cfg)
    del old["es"]["dream_models"]
    assert changes(old, cfg, ("controller", "es"), C_HOW) == []
    cfg["es"]["dream_models"] = 2
    assert changes(old, cfg, ("controller", "es"), C_HOW) == ["es.dream_models=1 (now 2)"]


def test_more_rollouts_may_be_scheduled_for_generations_not_yet_made_never_for_made_ones(tmp_path):
    from dynaworld.studies.worldmodels.table import _budget
    from dynaworld.worldmodels.run import WorldModelsRun

    def cfg(*extra):
        return load_config(None, ["es.rollouts=4", *extra], WorldModelsConfig)

    folder = WorldModelsRun(cfg(), tmp_path).claim_c(1)
    ev = lambda p: _quadratic(p[None], 0)  # noqa: E731
    evolve(folder, 5, _quadratic, ev, generations=3, popsize=8, eval_every=3, progress=False)
    later = cfg("es.rollouts_from=[[4, 16]]")
    assert [later.es.rollouts_at(g) for g in (1, 3, 4, 100)] == [4, 4, 16, 16]
    assert (
        WorldModelsRun(later, tmp_path).check_c(1) == folder
    )  # generations 1-3 keep their 4 rollouts
    with pytest.raises(ConfigError, match=r"es.rollouts_from=\[\] \(now \[\[3, 16\]\]\)"):
        WorldModelsRun(cfg("es.rollouts_from=[[3, 16]]"), tmp_path)  # generation 3 was made with 4
    with pytest.raises(ConfigError, match="generations must increase"):
        cfg("es.rollouts_from=[[60, 8], [50, 16]]")
    budget = {"popsize": 16, "rollouts": 4, "generations": 200, "rollouts_from": [[60, 16]]}
    assert _budget({"budget": budget}) == "16 × 4 → 16 from gen. 60, 200 gen."


def test_an_experiment_refuses_a_controller_it_cannot_continue_before_making_any_data(tmp_path):
    from dynaworld.studies.worldmodels.controllers import run_experiment
    from dynaworld.worldmodels.run import WorldModelsRun

    run_dir = tmp_path / "wm"
    folder = WorldModelsRun(
        load_config(None, ["es.rollouts=4"], WorldModelsConfig), run_dir
    ).claim_c(1)
    ev = lambda p: _quadratic(p[None], 0)  # noqa: E731
    evolve(folder, 5, _quadratic, ev, generations=1, popsize=8, eval_every=1, progress=False)
    exp = tmp_path / "e.yaml"
    exp.write_text("name: e\ncontrollers:\n  - {es.rollouts: 2}\n")
    with pytest.raises(ConfigError, match="'config' .* is missing"):
        run_experiment(exp, run_dir, TINY, progress=False)
    exp.write_text(
        "name: e\nconfig: worldmodels_carracing_small\ncontrollers:\n  - {es.rollouts: 2}\n"
    )
    with pytest.raises(ConfigError, match="es.rollouts=4 \\(now 2\\)"):
        run_experiment(exp, run_dir, TINY, progress=False)
    assert not (run_dir / "data").exists() and not (run_dir / "vae.pt").exists()


def test_doom_report_pools_cmaes_repeats_and_tests_two_models_against_one():
    from dynaworld.studies.stats import welch_p
    from dynaworld.studies.worldmodels.doom_table import seeds_table

    def c(models: int, seed: int, mean: float) -> dict:
        return {"temperature": 1.15, "dream_done": "sample", "dream_models": models,
                "es_seed": seed, "iteration": 4, "mean": mean}  # fmt: skip

    one = [c(1, s, m) for s, m in enumerate((194, 206, 180))]
    two = [c(2, s, m) for s, m in enumerate((487, 420, 515))]
    lines = seeds_table([*one, *two, c(3, 0, 231)])  # one run of 3 models: no row
    rows = [line for line in lines if line.startswith("| τ = 1.15")]
    assert rows[0].startswith("| τ = 1.15 (deaths sampled), iteration 4 | 0: 194; 1: 206; 2: 180 |")
    assert "lowest of 2 models, iteration 4 | 0: 487; 1: 420; 2: 515 | 474 t[" in rows[1]  # n=3: t
    assert len(rows) == 3 and "3 models" not in "".join(lines)
    p = welch_p([487, 420, 515], [194, 206, 180])
    assert rows[2].endswith(f"| +281 | {p:.2g} | {p:.2g} |")  # one pair: Holm = Welch
    assert seeds_table([c(1, 0, 194), c(2, 0, 487)]) == []  # no repeats, no table
    # C from zero weights (es.start=zero) is another setting: pooled apart, labelled
    zero = [c(1, s, m) | {"start": "zero"} for s, m in enumerate((183, 170))]
    rows = [line for line in seeds_table([*one, *zero]) if line.startswith("| τ")]
    assert len(rows) == 2 and "from zero weights, iteration 4 | 0: 183; 1: 170 |" in rows[1]


def test_doom_report_gives_the_test_block_first_against_its_own_random_and_both_death_rules(
    tmp_path,
):
    from PIL import Image

    from dynaworld.studies.worldmodels.table import report

    rng = np.random.default_rng(0)

    def write(path, e, centre):
        r = np.round(rng.normal(centre, 100, 100)).tolist()
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(e | {"returns": r, "mean": np.mean(r), "std": np.std(r)}))

    for rule, centre in (("sample", 700), ("threshold", 400)):
        for tau in (0.5, 1.15):
            c = {"variant": "full", "where": "dream", "temperature": tau, "dream_done": rule,
                 "es_seed": 0, "episodes": 100, "virtual_mean": 1500.0, "virtual_std": 50.0}  # fmt: skip
            folder = tmp_path / f"C_full_dream_tau{tau:g}_{rule}"
            write(folder / "eval.json", c | {"exploitation_gap": 800.0}, centre)
            write(
                folder / "eval_test.json",
                c | {"block": "test", "exploitation_gap": 900.0},
                centre + 5,
            )
    write(tmp_path / "random_eval.json", {"variant": "random", "episodes": 100}, 200)
    write(
        tmp_path / "random_eval_test.json",
        {"variant": "random", "episodes": 100, "block": "test"},
        600,
    )
    lines = report([tmp_path]).read_text().splitlines()
    rows = [x for x in lines if x.startswith("| 0.5") or x.startswith("| 1.15")]
    assert len(rows) == 8 and all("100 (test)" in x for x in rows[:4])  # the test block first
    assert not any("(test)" in x for x in rows[4:])
    welch = [float(x.split("|")[10]) for x in rows]  # C ≈ 700 / 400 against random 600 / 200
    assert min(welch[4:]) < 1e-6 and max(welch[:4]) > min(welch[4:])
    randoms = [x for x in lines if x.startswith("| random policy")]
    assert len(randoms) == 2 and sum("(test)" in x for x in randoms) == 1
    assert "![the exploitation gap under both death rules](death_rule.png)" in lines
    with Image.open(tmp_path / "death_rule.png") as im:
        assert np.asarray(im.convert("L")).std() > 0


def _evaluated_c(folder, params, returns):
    """A C folder as ``evaluate`` leaves it: params.npy and an eval.json that names its digest."""
    from dynaworld.worldmodels.run import params_digest

    folder.mkdir(parents=True)
    np.save(folder / "params.npy", params)
    e = {"returns": returns, "mean": float(np.mean(returns)), "std": float(np.std(returns))}
    (folder / "eval.json").write_text(json.dumps(e | {"params_sha256": params_digest(folder)}))
    return str(folder)


def test_compare_pools_repeats_tests_them_against_the_first_and_a_target_and_refuses_bad_input(
    tmp_path, cli
):
    from pathlib import Path

    from scipy import stats as sps

    from dynaworld.studies.stats import holm, welch_p

    rng = np.random.default_rng(0)

    def c(run: str, name: str, center: float) -> str:
        params = rng.normal(size=5)
        return _evaluated_c(
            tmp_path / run / name, params, np.round(rng.normal(center, 100, 100)).tolist()
        )

    a = [c("m15k", f"C_{s}", m) for s, m in enumerate((740, 700, 710))]
    b = [c("m21k", f"C_{s}", m) for s, m in enumerate((450, 580, 170))]
    r = cli("worldmodels", "compare", ",".join(a), "longer=" + ",".join(b), "--target", "750")
    assert r.returncode == 0, r.stderr
    rows = [
        line.split(" | ")
        for line in r.stdout.splitlines()
        if line.startswith("| m15k") or line.startswith("| longer")
    ]
    x, y = ([json.loads((Path(f) / "eval.json").read_text())["returns"] for f in s] for s in (a, b))
    x, y = np.concatenate(x), np.concatenate(y)
    assert rows[0][3] == f"{x.mean():.1f} ± {x.std():.1f}" and rows[1][2] == "300"
    tests = [sps.ttest_1samp(x, 750).pvalue, sps.ttest_1samp(y, 750).pvalue, welch_p(x, y)]
    runs = welch_p(
        *([json.loads((Path(f) / "eval.json").read_text())["mean"] for f in s] for s in (a, b))
    )
    adjusted = holm([tests[0], tests[1], tests[2], runs])  # the table's four tests, one family
    assert rows[0][6] == f"{tests[0]:.2g} ({adjusted[0]:.2g})"
    assert rows[1][7] == f"{tests[2]:.2g} ({adjusted[2]:.2g})"
    assert rows[1][9] == f"{runs:.2g} ({adjusted[3]:.2g}) |"
    # a C trained on after its evaluation, a folder never evaluated, an existing --out: refused
    np.save(Path(b[0]) / "params.npy", np.zeros(5))
    (tmp_path / "table.md").write_text("mine")
    for args, named in (
        ((",".join(a), b[0]), "stale"),
        ((a[0], str(tmp_path / "m21k" / "C_9")), "C_9/eval.json not found"),
        ((a[0], a[1], "--out", str(tmp_path / "table.md")), "table.md exists"),
    ):
        r = cli("worldmodels", "compare", *args)
        assert r.returncode != 0 and named in r.stderr and r.stdout == "", (args, r.stderr)
    assert (tmp_path / "table.md").read_text() == "mine"


def test_only_iter_k_folders_are_iterations_so_a_run_named_seed12_keeps_its_name(tmp_path, cli):
    from pathlib import Path

    from dynaworld.worldmodels.run import iteration_dir, iteration_of

    assert [iteration_of(Path(n)) for n in ("iter2", "iter13", "seed12", "iter", "iter1")] == [
        2,
        13,
        None,
        None,
        None,
    ]
    assert iteration_dir(tmp_path, 1) == tmp_path and iteration_dir(tmp_path, 3).name == "iter3"
    folders = [
        _evaluated_c(tmp_path / run / "C_0", np.zeros(3), [700.0, 800.0])
        for run in ("seed12", "m15k/iter2")
    ]
    r = cli("worldmodels", "compare", *folders)
    assert r.returncode == 0, r.stderr
    assert "| seed12 |" in r.stdout and "| m15k/iter2 |" in r.stdout, r.stdout


def test_a_c_starts_from_a_named_c_folder_of_its_run_as_real_fine_tuning_of_a_dream_c(
    run_dir, tmp_path
):
    """es.start=<C folder>: a CMA-ES continues a named C of its run (issue 41's fine-tuning arm:
    real-environment generations from a dream-trained C; here the named C is trained on E, as
    the tiny run's M has no reward head) into a folder of its own, its start recorded with the
    C's digest; a folder outside the run, one without params.npy, or a C of another variant is
    refused, naming why."""
    from dynaworld.worldmodels.run import params_digest

    d = tmp_path / "run"
    shutil.copytree(run_dir, d)
    Pipeline(load_config(None, TINY, WorldModelsConfig), d, progress=False).run(["train_c"])
    dreamt = d / "C_full"
    real = load_config(None, TINY + ["es.start=C_full", "es.generations=1"], WorldModelsConfig)
    pipe = Pipeline(real, d, progress=False)
    pipe.run(["train_c"])
    tuned = pipe.paths.c_dir(1)
    assert tuned.name == "C_full_from-C_full"
    started = json.loads((tuned / "start.json").read_text())
    assert started == {"from": "C_full", "params_sha256": params_digest(dreamt)}
    state = load_state(tuned, new_es(len(np.load(dreamt / "params.npy")), 0.1, 4, 0, False))
    assert state is not None and np.allclose(state["es"].x0, np.load(dreamt / "params.npy"))
    with pytest.raises(ConfigError, match="inside the run directory"):
        load_config(None, TINY + ["es.start=../elsewhere/C_full"], WorldModelsConfig)
    with pytest.raises(ConfigError, match="no params.npy"):
        Pipeline(load_config(None, TINY + ["es.start=C_nope"], WorldModelsConfig), d)
    other = load_config(None, TINY + ["es.start=C_full", "controller.variant=v_only"], WorldModelsConfig)  # fmt: skip
    with pytest.raises(DynaworldError, match="same variant"):
        Pipeline(other, d, progress=False).run(["train_c"])


def test_a_world_models_run_loads_as_an_agent_whose_predict_carries_m_state(run_dir, tmp_path):
    """``dynaworld.load(run).agent.predict(obs, state)`` on ``run.make_env()``, step by step,
    plays the episode C's evaluation plays on that track (same return), and a batch of two
    episodes acts as each alone: V + M + C is an agent like DQN's, its M state carried."""
    import dynaworld
    from dynaworld.worldmodels.rollout import load_run, play

    d = tmp_path / "run"
    shutil.copytree(run_dir, d)
    Pipeline(load_config(None, TINY, WorldModelsConfig), d, progress=False).run(["train_c"])
    run = dynaworld.load(d)
    agent, (_, params), env = run.agent, run.controller, run.make_env()
    total, state, obs, steps = 0.0, None, env.reset(seed=5)[0], 0
    while steps < 25:
        action, state = agent.predict(obs, state)
        obs, r, terminated, truncated, _ = env.step(action)
        total, steps = total + float(r), steps + 1
        if terminated or truncated:
            break
    loaded = load_run(d / "vae.pt", run.paths.m_path(1), run.paths.env_kw(training=False))
    assert total == pytest.approx(play(loaded, run.paths.spec, params, [5], 25)[0], abs=1e-6)
    first, _ = env.reset(seed=7)
    together, _ = agent.predict(np.stack([obs, first]))
    alone = [agent.predict(o)[0] for o in (obs, first)]
    assert all(np.allclose(a, b) for a, b in zip(together, alone, strict=True))
