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
