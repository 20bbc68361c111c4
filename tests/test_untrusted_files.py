"""Claims: nothing dynaworld loads from a run directory, dataset or sweep folder can run code.

Every crafted payload here is a pickle whose ``__reduce__`` would create a marker file; each is
refused with an error naming the file, and the marker never appears.
"""

import pickle

import numpy as np
import pytest
import torch

from dynaworld import plain
from dynaworld.agents.cmaes import load_state, new_es
from dynaworld.checkpoint import latest_checkpoint, load_checkpoint, load_file
from dynaworld.errors import CheckpointError, DynaworldError
from dynaworld.replay import ReplayBuffer
from dynaworld.worldmodels.data import load_npz


class Payload:
    """Unpickling this creates ``path`` (a stand-in for any code an attacker would run)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def evil_bytes(marker):
    return pickle.dumps(Payload(marker))


def evil_tensor(marker):
    return torch.frombuffer(bytearray(evil_bytes(marker)), dtype=torch.uint8)


def _rewrite_latest(run_dir, edit):
    path = latest_checkpoint(run_dir)
    state = torch.load(path, weights_only=True)
    edit(state)
    torch.save(state, path)
    return path


def test_a_checkpoint_whose_env_payload_is_a_pickle_is_refused_on_resume(
    cli, finished_run, tmp_path
):
    d = finished_run
    marker = tmp_path / "pwned"

    def edit(state):
        state["env"] = evil_tensor(marker)  # the format of dynaworld <= 0.1

    path = _rewrite_latest(d, edit)
    r = cli("train", "--resume", str(d), "total_steps=400")
    assert r.returncode == 2 and str(path) in r.stderr and "Traceback" not in r.stderr
    r = cli("model-error", str(d))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert not marker.exists()


def test_a_checkpoint_that_is_itself_a_crafted_pickle_is_refused(cli, finished_run, tmp_path):
    d = finished_run
    marker = tmp_path / "pwned"
    path = latest_checkpoint(d)
    torch.save({"format": 1, "env": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="refused, it could run code"):
        load_checkpoint(path)
    r = cli("train", "--resume", str(d), "total_steps=400")
    assert r.returncode == 2 and "refused" in r.stderr
    r = cli("eval", str(d), "--episodes", "1")
    assert r.returncode == 2 and "refused" in r.stderr
    assert not marker.exists()


def test_replay_emulator_states_that_are_a_pickle_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    buf = ReplayBuffer(20, (2,), np.float32, sim=True)
    buf.start_episode(np.zeros(2, np.float32), sim=(0, np.arange(3)))
    for i in range(1, 5):
        buf.add(0, 0.0, False, np.zeros(2, np.float32), sim=(i, np.arange(3)))
    state = buf.state_dict()
    again = ReplayBuffer(20, (2,), np.float32, sim=True)
    again.load_state_dict(state)  # plain data round-trips
    assert again.sim[3][0] == 3 and np.array_equal(again.sim[3][1], np.arange(3))
    state["sim"] = evil_tensor(marker)
    with pytest.raises(CheckpointError, match="emulator states"):
        ReplayBuffer(20, (2,), np.float32, sim=True).load_state_dict(state)
    assert not marker.exists()


def test_crafted_cmaes_states_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "C_full"
    folder.mkdir()
    (folder / "es.pkl").write_bytes(evil_bytes(marker))  # dynaworld <= 0.1's file name
    with pytest.raises(CheckpointError, match="not loaded"):
        load_state(folder, new_es(4, 0.1, 8, 0, False))
    torch.save({"format": "dynaworld.cmaes/1", "es": Payload(marker)}, folder / "es.pt")
    with pytest.raises(CheckpointError, match="es.pt"):
        load_state(folder, new_es(4, 0.1, 8, 0, False))
    assert not marker.exists()


def test_crafted_v_m_and_rollout_files_are_refused(tmp_path):
    from dynaworld.worldmodels.rollout import load_m, load_v

    marker = tmp_path / "pwned"
    torch.save({"z_dim": 4, "weights": Payload(marker)}, tmp_path / "vae.pt")
    for load in (load_v, load_m):
        with pytest.raises(CheckpointError, match="vae.pt"):
            load(tmp_path / "vae.pt")
    arr = np.empty(1, object)
    arr[0] = Payload(marker)
    np.savez(tmp_path / "rollout_000000.npz", frames=arr)
    with pytest.raises(DynaworldError, match="rollout_000000.npz"):
        load_npz(tmp_path / "rollout_000000.npz")
    (tmp_path / "rollout_000001.npz").write_bytes(b"PK\x03\x04truncated")
    with pytest.raises(DynaworldError, match="rollout_000001.npz"):
        load_npz(tmp_path / "rollout_000001.npz")
    assert not marker.exists()


def test_plain_data_builds_only_the_types_it_lists():
    value = {
        "a": np.arange(6, dtype=np.int16).reshape(2, 3),
        "t": (1, 2.5, None, "s", b"\x00"),
        7: np.float32(1.5),
        "rng": np.random.Generator(np.random.PCG64(3)),
        "legacy": np.random.RandomState(np.random.MT19937(4)),
    }
    back = plain.decode(torch.load(_saved(plain.encode(value)), weights_only=True))
    assert back["a"].dtype == np.int16 and np.array_equal(back["a"], value["a"])
    assert back["t"] == value["t"] and back[7] == np.float32(1.5)
    assert back["rng"].random() == np.random.Generator(np.random.PCG64(3)).random()
    assert back["legacy"].rand() == np.random.RandomState(np.random.MT19937(4)).rand()
    with pytest.raises(plain.Unencodable):
        plain.encode(object())
    with pytest.raises(CheckpointError, match="object"):
        plain.decode({"__plain__": "ndarray", "dtype": "|O", "shape": [1], "data": b"0" * 8})
    with pytest.raises(CheckpointError, match="bit generator"):
        plain.decode({"__plain__": "generator", "state": {"bit_generator": "os.system"}})


def _saved(tree):
    import io

    f = io.BytesIO()
    torch.save(tree, f)
    f.seek(0)
    return f


def test_load_file_names_a_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nothing.pt"):
        load_file(tmp_path / "nothing.pt")


def test_a_crafted_env_state_cannot_reach_past_the_env_graph():
    import gymnasium as gym

    from dynaworld.envs.state import env_state, load_env_state

    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    state, _ = env_state(env)
    for name, node in [
        ("__class__", {"__plain__": "object", "attrs": {"step": 1}}),  # into the class
        ("__dict__", {"x": 1}),
    ]:
        bad = {"__plain__": "object", "attrs": {name: node}}
        with pytest.raises(CheckpointError, match="not an attribute a state may set"):
            load_env_state(env, bad)
    bad = {"__plain__": "object", "attrs": {"np_random": {"__plain__": "object", "attrs": {}}}}
    with pytest.raises(CheckpointError, match="holds an object here"):
        load_env_state(env, bad)  # a Generator is a value here, not an object graph to walk
    fresh = gym.make("CartPole-v1")
    load_env_state(fresh, state)  # the real state still loads
    assert np.array_equal(fresh.unwrapped.state, env.unwrapped.state)
