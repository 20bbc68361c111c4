import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from dynaworld.checkpoint import latest_checkpoint
from dynaworld.config import load_config
from dynaworld.runlog import read_metrics
from tests.conftest import CONFIGS

FAST = ["progress=false", "eval_episodes=3", "final_eval_episodes=5"]


def test_minatar_run_directory(cli, tmp_path):
    d = tmp_path / "breakout"
    r = cli(
        "train",
        str(CONFIGS / "dqn_minatar_breakout.yaml"),
        "total_steps=3000",
        "replay.learning_starts=500",
        "eval_every=1000",
        "checkpoint_every=1000",
        "log_every=500",
        *FAST,
        "--run-dir",
        str(d),
    )
    assert r.returncode == 0, r.stderr
    assert "replay buffer: 100,000 steps" in r.stdout  # memory footprint reported at start
    cfg = load_config(d / "config.yaml")
    assert (
        cfg.total_steps == 3000 and cfg.env.id == "MinAtar/Breakout-v1" and cfg.agent.lr == 0.00025
    )
    summary = json.loads((d / "summary.json").read_text())
    for k in ("eval_return_mean", "eval_return_std", "env_steps", "agent_updates", "wall_time_s"):
        assert k in summary
    assert summary["env_steps"] == 3000 and summary["agent_updates"] == 2500
    rows = read_metrics(d)
    assert sum("eval_return_mean" in r for r in rows) == 3  # at 1000, 2000 and the final one
    assert any("loss" in r for r in rows) and any("episode_return" in r for r in rows)
    assert list((d / "tensorboard").glob("events.out.tfevents.*"))
    ckpt = latest_checkpoint(d)
    assert ckpt is not None and ckpt.parent.name == "step_0000003000"
    state = torch.load(ckpt, weights_only=True)
    assert {"components", "env", "loop", "torch_rng"} <= set(state)
    assert {"agent", "data", "sampler"} <= set(state["components"])  # data: the replay buffer
    assert len(list((d / "checkpoints").iterdir())) == 2  # keep_checkpoints


def test_existing_run_dir_is_never_overwritten(cli, tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "precious.txt").write_text("keep me")
    r = cli("train", str(CONFIGS / "dqn_cartpole.yaml"), "total_steps=2000", "--run-dir", str(d))
    assert r.returncode != 0 and "already holds a run" in r.stderr
    assert (d / "precious.txt").read_text() == "keep me"


def _summary_numbers(d):
    s = json.loads((d / "summary.json").read_text())
    return {k: v for k, v in s.items() if k != "wall_time_s"}


def test_sigkill_and_resume_gives_the_same_result(cli, tmp_path):
    args = [
        str(CONFIGS / "dqn_cartpole.yaml"),
        "total_steps=5000",
        "replay.learning_starts=500",
        "checkpoint_every=500",
        "eval_every=2000",
        *FAST,
    ]
    full, killed = tmp_path / "full", tmp_path / "killed"
    assert cli("train", *args, "--run-dir", str(full)).returncode == 0

    proc = subprocess.Popen(
        [sys.executable, "-m", "dynaworld.cli", "train", *args, "--run-dir", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        ck = latest_checkpoint(killed)
        if ck is not None and int(ck.parent.name.split("_")[1]) >= 1500:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it could be killed"

    r = cli("train", "--resume", str(killed))
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout
    assert _summary_numbers(killed) == _summary_numbers(full)

    # the metrics are those of one uninterrupted run (wall-clock columns aside)
    def strip(rows):
        return [
            {k: v for k, v in row.items() if k not in ("wall_time_s", "steps_per_s")}
            for row in rows
        ]

    assert strip(read_metrics(killed)) == strip(read_metrics(full))


def test_truncated_checkpoint_is_a_clear_error(cli, tmp_path):
    d = tmp_path / "r"
    r = cli(
        "train",
        str(CONFIGS / "dqn_cartpole.yaml"),
        "total_steps=1500",
        "replay.learning_starts=500",
        "checkpoint_every=500",
        *FAST,
        "--run-dir",
        str(d),
    )
    assert r.returncode == 0, r.stderr
    (d / "summary.json").unlink()
    ck = latest_checkpoint(d)
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    r = cli("train", "--resume", str(d))
    assert r.returncode != 0
    assert (
        "truncated or corrupt" in r.stderr and str(ck) in r.stderr and "Traceback" not in r.stderr
    )
    assert ck.stat().st_size == len(data) // 2  # nothing was deleted or overwritten
    r = cli("eval", str(d), "--episodes", "2")
    assert r.returncode != 0 and "truncated or corrupt" in r.stderr


def test_eval_command(cli, tmp_path):
    d = tmp_path / "r"
    assert (
        cli(
            "train",
            str(CONFIGS / "dqn_cartpole.yaml"),
            "total_steps=1000",
            "replay.learning_starts=500",
            *FAST,
            "--run-dir",
            str(d),
        ).returncode
        == 0
    )
    r = cli("eval", str(d), "--episodes", "4")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["episodes"] == 4 and out["eval_return_mean"] > 0


def test_atari_pong_smoke(cli, tmp_path):
    d = tmp_path / "pong"
    r = cli(
        "train",
        str(CONFIGS / "dqn_atari100k_pong.yaml"),
        "total_steps=400",
        "replay.learning_starts=200",
        "replay.capacity=1000",
        "final_eval_episodes=1",
        "progress=false",
        "env.max_episode_steps=300",
        "--run-dir",
        str(d),
    )
    assert r.returncode == 0, r.stderr
    s = json.loads((d / "summary.json").read_text())
    assert s["env_steps"] == 400 and s["agent_updates"] == 50
    assert "frame (84, 84) uint8 (stack 4)" in r.stdout


@pytest.mark.slow
def test_dqn_learns_cartpole(tmp_path):
    """A learning test on a real environment: far above the random policy's ~22."""
    from dynaworld.training import train

    cfg = load_config(
        CONFIGS / "dqn_cartpole.yaml", ["total_steps=20000", "progress=false", "eval_every=0"]
    )
    summary = train(cfg, tmp_path / "cp")
    print("CartPole DQN eval return:", summary["eval_return_mean"])
    assert summary["eval_return_mean"] >= 100


def test_ctrl_c_stops_at_a_step_with_a_checkpoint_and_names_the_resume_command(cli, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    d = tmp_path / "run"
    p = subprocess.Popen(
        [sys.executable, "-m", "dynaworld.cli", "train", str(CONFIGS / "dqn_cartpole.yaml"),
         "total_steps=200000", "replay.learning_starts=100", "eval_every=0", "checkpoint_every=100000",
         "progress=false", "--run-dir", str(d)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for _ in range(600):
        if (d / "metrics.csv").is_file() and (d / "metrics.csv").stat().st_size > 2000:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert f"checkpoint written; resume with 'dynaworld train --resume {d}'" in err, err
    step = int(err.split("interrupted at step ")[1].split(":")[0].replace(",", ""))
    assert 0 < step < 100_000 and (d / "checkpoints" / f"step_{step:010d}").is_dir()
    r = cli("train", "--resume", str(d), f"total_steps={step + 100}", "final_eval_episodes=1")
    assert r.returncode == 0 and "resumed from" in r.stdout and f"step {step:,}" in r.stdout, (
        r.stderr
    )


def test_a_shape_without_a_model_is_refused_and_the_header_names_the_planning(cli, tmp_path):
    args = ["train", str(CONFIGS / "dqn_cartpole.yaml"), "total_steps=200", "eval_every=0",
            "replay.learning_starts=100", "final_eval_episodes=1", "progress=false"]  # fmt: skip
    r = cli(*args, "planning.shape=10x10", "--run-dir", str(tmp_path / "a"))
    assert r.returncode != 0 and "planning.shape=10x10 does nothing with planning.model=none" in r.stderr, r.stderr  # fmt: skip
    assert not (tmp_path / "a").exists()  # refused before any work
    r = cli(*args, "--run-dir", str(tmp_path / "a"))
    assert r.returncode == 0 and "| 200 real steps | no planning (DQN) |" in r.stdout, r.stdout
    r = cli(
        *args, "planning.model=replay", "planning.shape=10x10", "--run-dir", str(tmp_path / "b")
    )
    assert r.returncode == 0 and "| planning replay 10x10 every 4 steps |" in r.stdout, r.stdout
