"""Claims: a run directory's record never lies.

A resume may change only settings that do not change what the run computes, is checked against
the checkpoint before anything is written, and is appended to history.jsonl; a finished run
resumed without a larger total_steps changes nothing; no command writes into another command's
directory.
"""

import json

import pytest

from dynaworld import rundir
from dynaworld.config import load_config
from tests.conftest import CONFIGS


def _files(d):
    return {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "override, key",
    [
        ("agent.lr=0.01", "agent.lr"),
        ("env.id=Acrobot-v1", "env.id"),
        ("replay.capacity=100", "replay.capacity"),
        ("planning.model=ensemble", "planning.model"),
        ("seed=5", "seed"),
        ("total_steps=100", "total_steps=100 is below the step this run reached (300)"),
    ],
)
def test_resume_refuses_what_the_checkpoint_was_not_trained_with(cli, finished_run, override, key):
    before = _files(finished_run)
    r = cli("train", "--resume", str(finished_run), override)
    assert r.returncode == 2 and key in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert _files(finished_run) == before  # nothing written, not even history


def test_resuming_a_finished_run_changes_nothing(cli, finished_run):
    before = _files(finished_run)
    r = cli("train", "--resume", str(finished_run))
    assert r.returncode == 0, r.stderr
    assert "already finished at step 300; nothing was changed" in r.stdout
    assert _files(finished_run) == before


def test_an_extended_run_records_its_resume(cli, finished_run):
    r = cli("train", "--resume", str(finished_run), "total_steps=400", "log_every=50")
    assert r.returncode == 0, r.stderr
    cfg = load_config(finished_run / "config.yaml")
    assert cfg.total_steps == 400 and cfg.log_every == 50 and cfg.agent.lr == 0.0005
    events = rundir.history(finished_run)
    assert [e["event"] for e in events] == ["created", "resumed"]
    assert events[1]["from_step"] == 300
    assert events[1]["overrides"] == {"total_steps": 400, "log_every": 50}
    assert json.loads((finished_run / "summary.json").read_text())["env_steps"] == 400


def test_commands_refuse_another_commands_directory(cli, finished_run, tmp_path):
    before = _files(finished_run)
    r = cli(
        "worldmodels", "train-v", str(CONFIGS / "worldmodels_carracing_small.yaml"),
        "--run-dir", str(finished_run),
    )  # fmt: skip
    assert r.returncode == 2 and "is an agent run (made by 'dynaworld train')" in r.stderr
    assert _files(finished_run) == before
    wm = tmp_path / "wm"
    rundir.claim(wm, "worldmodels", "test")
    for args in (("train", "--resume", str(wm)), ("eval", str(wm)), ("model-error", str(wm))):
        r = cli(*args)
        assert r.returncode == 2 and "is a World Models run" in r.stderr, r.stderr
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = cli("train", str(CONFIGS / "dqn_cartpole.yaml"), "--run-dir", str(afile))
    assert r.returncode == 2 and "is a file, not a directory" in r.stderr
    assert afile.read_text() == "x"
