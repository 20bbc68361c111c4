"""Claims: bad input is a named error (exit 2) before any work, and leaves no run directory.

Each case is one a new user met as a raw traceback or as silent nonsense.
"""

import errno
import os

import pytest
import torch

from dynaworld import checkpoint as ckpt
from dynaworld.config import load_config
from dynaworld.errors import CheckpointError, ConfigError
from tests.conftest import CONFIGS

CARTPOLE = str(CONFIGS / "dqn_cartpole.yaml")
SHORT = ["total_steps=200", "replay.learning_starts=100", "eval_every=0", "final_eval_episodes=1"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("device=tpu", "device: must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
        ("agent.hidden=[64,-3]", "agent.hidden: must be a non-empty list of sizes > 0"),
        ("agent.hidden=[0]", "agent.hidden: must be a non-empty list of sizes > 0"),
        ("agent.lr=inf", "agent.lr: must be a finite number"),
        ("agent.lr=.nan", "agent.lr: must be a finite number"),
        ("planning.model=perfect", "'perfect' needs an ALE or MinAtar game"),
        ("seed=-1", "seed: must be in [0, 2**31)"),
        ("replay.capacity=1", "replay.capacity=1: must hold at least one minibatch"),
        ("replay.capacity=1000000000000", "more than this machine's"),
        ("agent.hidden=[1000000000]", "network parameters"),
        ("agent.network=minatar", "agent.network=minatar cannot take CartPole-v1's observations"),
    ],
)
def test_bad_settings_are_named_and_leave_no_run_directory(cli, tmp_path, override, message):
    d = tmp_path / "run"
    r = cli("train", CARTPOLE, *SHORT, override, "--run-dir", str(d))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not d.exists()


def test_the_corrected_command_runs_in_the_same_directory(cli, tmp_path):
    d = tmp_path / "run"
    assert cli("train", CARTPOLE, *SHORT, "agent.hidden=[64,-3]", "--run-dir", str(d)).returncode
    r = cli("train", CARTPOLE, *SHORT, "agent.hidden=[64,3]", "--run-dir", str(d))
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA")
def test_cuda_on_a_cpu_only_torch_is_named():
    with pytest.raises(ConfigError, match="has no CUDA device"):
        load_config(CARTPOLE, ["device=cuda"])


def test_a_shape_is_read_as_written_not_as_yaml_hex():
    with pytest.raises(ConfigError, match="got '0x10'"):
        load_config(CARTPOLE, ["planning.model=replay", "planning.shape=0x10"]).validate()
    assert load_config(CARTPOLE, ["total_steps=1_000"]).total_steps == 1000


def test_command_line_numbers_are_checked(cli, finished_run, tmp_path):
    for args, option in [
        (("collect", str(finished_run), "--steps", "-5", "--out", str(tmp_path / "x")), "--steps"),
        (
            ("collect", str(finished_run), "--steps", "5", "--epsilon", "2", "--out", "x"),
            "--epsilon",
        ),
        (("eval", str(finished_run), "--episodes", "0"), "--episodes"),
    ]:
        r = cli(*args)
        assert r.returncode == 2 and option in r.stderr and "must be" in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()


def test_a_full_disk_keeps_the_previous_checkpoint_and_leaves_no_partial_one(tmp_path, monkeypatch):
    first = ckpt.save_checkpoint(tmp_path, 1, {"format": 1, "w": torch.zeros(1000)})
    real_save = torch.save

    def full_disk(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(
        CheckpointError, match="the disk is full .*MiB.*previous checkpoint is intact"
    ):
        ckpt.save_checkpoint(tmp_path, 2, {"format": 1, "w": torch.zeros(1000)})
    monkeypatch.setattr(torch, "save", real_save)
    assert not list((tmp_path / "checkpoints").glob(".tmp-*"))
    assert ckpt.latest_checkpoint(tmp_path) == first and ckpt.load_checkpoint(first)["format"] == 1


def test_a_partial_checkpoint_left_by_a_crash_is_removed_on_resume(cli, finished_run):
    stale = finished_run / "checkpoints" / ".tmp-step_0000000400-99999"
    stale.mkdir()
    (stale / "state.pt").write_bytes(b"half")
    r = cli("train", "--resume", str(finished_run), "total_steps=400")
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and "half-written" in r.stdout


def test_a_ray_address_that_does_not_answer_fails_fast(cli, tmp_path):
    pytest.importorskip("ray")
    import time

    t0 = time.time()
    r = cli(
        "sweep", str(CONFIGS.parent / "experiments/planning_shape.yaml"), "--out", str(tmp_path / "s"),
        "--suite", "minatar", "--game", "Breakout", "--method", "dqn", "--seeds", "1",
        "--ray", "127.0.0.1:1",
    )  # fmt: skip
    assert r.returncode == 2 and "--ray 127.0.0.1:1: no Ray cluster answers there" in r.stderr
    assert "ray start --head" in r.stderr and time.time() - t0 < 60
    assert not (tmp_path / "s").exists()


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    "text, message",
    [
        (b"- just\n- a list\n", "top level must be a mapping"),
        (b"agent: 5\n", "agent"),
        (b"agent: {lr: [1, 2]}\n", "agent.lr"),
        (b"env:" + b" {a:" * 40 + b" 1" + b"}" * 40 + b"\n", "nested deeper than 16 levels"),
        (b"name: \xff\xfe\n", "not UTF-8 text"),
        (BILLION_LAUGHS.encode(), "aliases"),
        (b"name: x\n" + b"#" * (2 << 20), "a config holds at most"),
    ],
)
def test_a_crafted_config_file_is_a_short_named_error(cli, finished_run, tmp_path, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(text)
    d = tmp_path / "run"
    r = cli("train", str(bad), *SHORT, "--run-dir", str(d))
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr) < 5000 and not d.exists()
    (finished_run / "config.yaml").write_bytes(text)  # the same file inside a shared run
    r = cli("eval", str(finished_run), "--episodes", "1")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr) < 5000, r.stderr


@pytest.mark.parametrize("text", [b"[1, 2]", b"\xff\xfe", b"{" * 100000])
def test_a_crafted_run_json_is_a_named_error(cli, finished_run, text):
    (finished_run / "run.json").write_bytes(text)
    for args in (("eval", str(finished_run), "--episodes", "1"),
                 ("train", "--resume", str(finished_run), "total_steps=400")):  # fmt: skip
        r = cli(*args)
        assert r.returncode == 2 and "run.json" in r.stderr and "Traceback" not in r.stderr, (
            r.stderr
        )


def test_run_directories_that_cannot_be_made_are_named_before_any_work(cli, tmp_path):
    long = tmp_path / ("x" * 300)
    r = cli("train", CARTPOLE, *SHORT, "--run-dir", str(long))
    assert r.returncode == 2 and "too long a path" in r.stderr and "Traceback" not in r.stderr
    locked = tmp_path / "readonly"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root ignores permissions: a file in the way instead
        locked = tmp_path / "a_file"
        locked.write_text("")
    r = cli("train", CARTPOLE, *SHORT, "--run-dir", str(locked / "run"))
    assert r.returncode == 2 and "not a folder this user can write" in r.stderr, r.stderr
    r = cli("eval", str(tmp_path), "--episodes", "1", "--seed", "-1")
    assert r.returncode == 2 and "--seed" in r.stderr and "must be at least 0" in r.stderr


def test_a_checkpoint_that_inflates_beyond_its_size_is_refused(finished_run):
    import zipfile

    path = ckpt.latest_checkpoint(finished_run)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\0" * (64 << 20))  # 64 MiB from ~64 KiB
    assert path.stat().st_size < 1 << 20
    with pytest.raises(CheckpointError, match="compressed entries"):
        ckpt.load_checkpoint(path)


def test_a_resume_that_fails_leaves_config_and_history_as_they_were(finished_run, monkeypatch):
    from dynaworld import training
    from dynaworld.resume import resume_config

    before = {n: (finished_run / n).read_bytes() for n in ("config.yaml", "history.jsonl")}

    def full_disk(*a, **k):
        raise CheckpointError("cannot write: the disk is full")

    monkeypatch.setattr(training.ckpt, "save_checkpoint", full_disk)
    cfg = resume_config(finished_run, ["total_steps=400", "progress=false"])
    with pytest.raises(CheckpointError, match="disk is full"):
        training.train(cfg, finished_run, resume=True)
    assert {n: (finished_run / n).read_bytes() for n in before} == before


@pytest.mark.parametrize(
    "meta, message",
    [
        ('{"x": 1}', "is not a dataset record (KeyError: 'frames')"),
        ('{"frames": "many", "frame_shape": [10, 10, 4], "dtype": "bool", "stack": 1, "env_id": "x"}',
         "is not a dataset record"),
        ('{"frames": 100000000000, "frame_shape": [10, 10, 4], "dtype": "bool", "stack": 1, "env_id": "x"}',
         "do not fit its chunk files"),
    ],
)  # fmt: skip
def test_a_bad_dataset_record_is_a_named_error_before_any_allocation(cli, tmp_path, meta, message):
    d = tmp_path / "data"
    d.mkdir()
    (d / "meta.json").write_text(meta)
    r = cli(
        "model-train",
        str(d),
        str(CONFIGS / "dqn_minatar_breakout.yaml"),
        "--out",
        str(tmp_path / "m.pt"),
    )
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "m.pt").exists()
