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


SWEEP_TINY = [
    "total_steps=400", "replay.learning_starts=100", "eval_every=400", "eval_episodes=1",
    "final_eval_episodes=1", "checkpoint_every=400",
]  # fmt: skip


def _sweep(cli, out, *extra):
    return cli(
        "sweep", str(CONFIGS.parent / "experiments/planning_shape.yaml"), *SWEEP_TINY,
        "--out", str(out), "--seeds", "1", "--suite", "minatar", "--game", "Breakout",
        "--workers", "1", *extra,
    )  # fmt: skip


def test_a_sweep_folder_refuses_another_spec_and_each_run_decides_reuse(cli, tmp_path):
    out = tmp_path / "sweep"
    r = _sweep(cli, out, "--method", "dqn")
    assert r.returncode == 0, r.stderr
    spec = (out / "experiment.yaml").read_text()
    assert "experiment_file" in spec and "total_steps=400" in spec and "suites:" in spec
    r = _sweep(cli, out, "--method", "dqn", "torch_threads=1")  # runtime only: the same runs
    assert r.returncode == 0 and "1 already finished" in r.stdout, r.stderr
    before = _files(out)
    r = _sweep(cli, out, "--method", "dqn", "agent.lr=0.01")
    assert r.returncode == 2 and "holds runs of another spec" in r.stderr
    r = _sweep(cli, out, "--method", "dqn", "agent.lr=0.01", "--add-spec")
    assert r.returncode == 2 and "was made with agent.lr=0.00025" in r.stderr, r.stderr
    assert _files(out) == before  # refused before anything was written
    r = _sweep(cli, out, "--method", "dqn_extra", "agent.lr=0.01", "--add-spec")
    assert r.returncode == 0, r.stderr
    assert "agent.lr=0.01" in (out / "experiment.2.yaml").read_text()
    assert (out / "experiment.yaml").read_text() == spec
    methods = [line.split(",")[3] for line in (out / "results.csv").read_text().splitlines()[1:]]
    assert sorted(methods) == ["dqn", "dqn_extra"]  # each row under the spec that made it
    assert [e["event"] for e in rundir.history(out)] == ["sweep", "sweep", "sweep"]


def test_sweep_inputs_are_checked_before_any_work(cli, tmp_path):
    out = tmp_path / "sweep"
    r = _sweep(cli, out, "--game", "Breakuot")
    assert (
        r.returncode == 2
        and "--game Breakuot" in r.stderr
        and "did you mean 'Breakout'" in r.stderr
    )
    r = _sweep(cli, out, "--method", "dqm")
    assert r.returncode == 2 and "did you mean 'dqn'" in r.stderr
    r = _sweep(cli, out, "--workers", "0")
    assert r.returncode == 2 and "--workers: must be at least 1, got 0" in r.stderr
    assert not out.exists()


def test_a_corrupt_summary_and_a_legacy_record_in_a_sweep_folder(cli, tmp_path):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "experiment.yaml").write_text("experiment: x.yaml\nseeds: 5\noverrides: []\nruns: 1\n")
    r = _sweep(cli, out, "--method", "dqn")
    assert r.returncode == 0, r.stderr
    assert "legacy_record" in (out / "experiment.yaml").read_text()  # kept, not overwritten
    summary = out / "runs/minatar/Breakout/dqn/seed0/summary.json"
    summary.write_text('{"eval_return_mean": 0.')
    r = _sweep(cli, out, "--method", "dqn")
    assert r.returncode == 2 and str(summary) in r.stderr and "Traceback" not in r.stderr


def test_the_demo_records_what_it_runs():
    from dynaworld.studies.demo import demo_experiment
    from dynaworld.studies.record import sweep_spec

    spec = sweep_spec(demo_experiment("MinAtar/Breakout-v1", 30_000, 2), [])
    assert spec["experiment_file"] == "(built in: dynaworld demo)"
    exp = spec["experiment"]
    assert exp["seeds"] == 2 and set(exp["methods"]) == {
        "dqn",
        "dqn_extra",
        "dyna_100x1",
        "rollout_10x10",
    }
    assert exp["suites"]["minatar"]["overrides"]["total_steps"] == 30_000
