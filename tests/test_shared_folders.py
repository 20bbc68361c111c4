"""Claims: a run or sweep folder someone shares cannot run code, write outside itself, or be
written by two processes at once (issue 42).

Every code-execution case puts a module inside the shared folder that would create a marker file
when imported; the marker never appears, and the refusal names the module and the folder.
"""

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

import dynaworld
from dynaworld.errors import DynaworldError
from tests.conftest import ROOT

EVIL = "import pathlib; pathlib.Path({marker!r}).write_text('pwned')\nclass F: pass\n"


def _shared_run(finished_run, project, marker, edit):
    """``finished_run`` copied into ``project/downloads/shared_run`` with ``evil.py`` beside its
    files and its config.yaml changed by ``edit``."""
    d = project / "downloads" / "shared_run"
    shutil.copytree(finished_run, d)
    (d / "evil.py").write_text(EVIL.format(marker=str(marker)))
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    edit(cfg)
    (d / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return d


def _python(code, cwd):
    env = {"PYTHONPATH": f"{cwd}:{ROOT}", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def _cli(args, cwd):
    return _python(f"import sys; from dynaworld.cli import main; sys.exit(main({args!r}))", cwd)


EDITS = {
    "env.imports": lambda c: c["env"].update(imports=["downloads.shared_run.evil"]),
    "env.id": lambda c: c["env"].update(id="downloads.shared_run.evil:CartPole-v1"),
    "planning.model": lambda c: c["planning"].update(model="downloads.shared_run.evil:F"),
}


@pytest.mark.parametrize("key", list(EDITS))
def test_a_dotted_import_into_a_shared_run_folder_never_runs(finished_run, tmp_path, key):
    project, marker = tmp_path / "project", tmp_path / "pwned"
    d = _shared_run(finished_run, project, marker, EDITS[key])
    entries = {
        "load": lambda: _python(
            "import dynaworld; dynaworld.load('downloads/shared_run')", project
        ),
        "eval": lambda: _cli(["eval", "downloads/shared_run", "--episodes", "1"], project),
        "resume": lambda: _cli(["train", "--resume", "downloads/shared_run"], project),
        "collect": lambda: _cli(
            ["collect", "downloads/shared_run", "--steps", "10", "--out", "data"], project
        ),
        "model-error": lambda: _cli(["model-error", "downloads/shared_run"], project),
    }
    # every entry for env.imports; the two ways in (load, resume) for the other keys
    chosen = entries if key == "env.imports" else {k: entries[k] for k in ("load", "resume")}
    for entry, run in chosen.items():
        r = run()
        assert r.returncode != 0, (entry, r.stdout, r.stderr)
        assert "never imported" in r.stderr and str(d) in r.stderr, (entry, r.stderr)
        assert "Traceback" not in r.stderr or entry == "load", (entry, r.stderr)
        assert not marker.exists(), entry


def test_a_run_inside_a_shared_sweep_folder_never_imports_the_sweeps_files(finished_run, tmp_path):
    project, marker = tmp_path / "project", tmp_path / "pwned"
    sweep = project / "sweeps" / "shared"
    run = sweep / "runs" / "minatar" / "Breakout" / "dqn" / "seed0"
    shutil.copytree(finished_run, run)
    (sweep / "run.json").write_text('{"kind": "sweep"}')
    (sweep / "evil.py").write_text(EVIL.format(marker=str(marker)))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["env"]["imports"] = ["sweeps.shared.evil"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = _cli(["eval", str(run), "--episodes", "1"], project)
    assert r.returncode == 2 and "never imported" in r.stderr, r.stderr
    assert not marker.exists()


def test_an_installed_module_named_by_a_shared_run_still_imports(finished_run, tmp_path):
    project, marker = tmp_path / "project", tmp_path / "pwned"
    _shared_run(
        finished_run, project, marker, lambda c: c["env"].update(imports=["tests.toy_envs"])
    )
    r = _cli(["eval", "downloads/shared_run", "--episodes", "1"], project)
    assert r.returncode == 0, r.stderr
    assert not marker.exists()


# ------------------------------------------------------------------ writes never follow a link

TINY_SWEEP = ["total_steps=300", "replay.learning_starts=100", "eval_every=300", "eval_episodes=1",
              "final_eval_episodes=1", "checkpoint_every=300"]  # fmt: skip


@pytest.fixture(scope="session")
def sweep_template(tmp_path_factory):
    """A finished tiny sweep (DQN and DQN extra updates, MinAtar Breakout, one seed)."""
    out = tmp_path_factory.mktemp("shared_sweep") / "sweep"
    r = subprocess.run(
        [sys.executable, "-m", "dynaworld.cli", "sweep", str(ROOT / "experiments/planning_shape.yaml"),
         *TINY_SWEEP, "--out", str(out), "--seeds", "1", "--suite", "minatar", "--game", "Breakout",
         "--method", "dqn", "--method", "dqn_extra", "--workers", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture
def shared_sweep(sweep_template, tmp_path):
    return Path(shutil.copytree(sweep_template, tmp_path / "sweep", symlinks=True))


def test_report_never_writes_through_a_linked_report_or_chart(cli, shared_sweep, tmp_path):
    victim = tmp_path / "site-packages" / "evil.pth"
    victim.parent.mkdir()
    victim.write_text("untouched\n")
    for link in ("report.md", "charts/minatar_Breakout.png"):
        target = shared_sweep / link
        target.parent.mkdir(exist_ok=True)
        target.unlink(missing_ok=True)
        target.symlink_to(victim)
        r = cli("report", str(shared_sweep))
        assert r.returncode == 2 and "symbolic link" in r.stderr and "Traceback" not in r.stderr
        assert victim.read_text() == "untouched\n", link
        target.unlink()
    (shared_sweep / "charts").rmdir()
    (shared_sweep / "charts").symlink_to(victim.parent, target_is_directory=True)
    r = cli("report", str(shared_sweep))
    assert r.returncode == 2 and "symbolic link" in r.stderr
    assert sorted(p.name for p in victim.parent.iterdir()) == ["evil.pth"]


@pytest.mark.parametrize(
    "column, value",
    [("label", "DQN\nimport os; os.system('touch pwned')"), ("label", "a | b"),
     ("suite", "/tmp/outside"), ("game", "../../escape"), ("method", "x/y")],
)  # fmt: skip
def test_names_read_from_a_shared_results_csv_never_become_paths_or_lines(
    cli, shared_sweep, tmp_path, column, value
):
    path = shared_sweep / "results.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0][column] = value
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    before = sorted(p.name for p in shared_sweep.iterdir())
    r = cli("report", str(shared_sweep))
    assert r.returncode == 2 and f"{column} " in r.stderr and "not a name" in r.stderr, r.stderr
    assert sorted(p.name for p in shared_sweep.iterdir()) == before  # nothing written
    assert not Path("/tmp/outside_Breakout.png").exists()


def test_report_escapes_nothing_it_did_not_check_and_still_works(cli, shared_sweep):
    r = cli("report", str(shared_sweep))
    assert r.returncode == 0, r.stderr
    assert "| DQN extra updates" in (shared_sweep / "report.md").read_text()


@pytest.mark.parametrize(
    "name", ["history.jsonl", "metrics.csv", "learning_curve.png", "config.yaml"]
)
def test_resume_never_writes_through_a_link_in_the_run_folder(cli, finished_run, tmp_path, name):
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (finished_run / name).unlink()
    (finished_run / name).symlink_to(victim)
    before = _files(finished_run)
    r = cli("train", "--resume", str(finished_run), "total_steps=400")
    assert r.returncode == 2 and "symbolic link" in r.stderr and "Traceback" not in r.stderr
    assert victim.read_text() == "untouched\n"
    assert _files(finished_run) == before


def test_a_sweep_run_whose_log_is_a_link_fails_alone_and_the_sweep_says_so(cli, tmp_path):
    out, victim = tmp_path / "sweep", tmp_path / "victim"
    victim.write_text("untouched\n")
    seed0 = out / "runs" / "minatar" / "Breakout" / "dqn" / "seed0"
    args = ["sweep", str(ROOT / "experiments/planning_shape.yaml"), *TINY_SWEEP, "--out", str(out),
            "--suite", "minatar", "--game", "Breakout", "--method", "dqn", "--workers", "1"]  # fmt: skip
    r = cli(*args, "--seeds", "1")
    assert r.returncode == 0, r.stderr
    seed1 = seed0.parent / "seed1"
    seed1.mkdir()
    (seed1 / "log.txt").symlink_to(victim)
    r = cli(*args, "--seeds", "2")
    assert r.returncode == 1, r.stderr  # a failed run: the sweep's exit status says so
    assert "1 of 1 runs failed" in r.stderr and "seed1" in r.stderr and "symbolic link" in r.stderr
    assert victim.read_text() == "untouched\n"


def _files(d):
    """Every file of ``d`` but ``.lock`` (its record names the last process that held it)."""
    return {
        p.relative_to(d): p.read_bytes()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# ------------------------------------------------------------------ one writer per folder

HOLD = """
import sys, time
from dynaworld import rundir
rundir.lock(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def _holder(d):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(d)], stdout=subprocess.PIPE, text=True,
                         cwd=ROOT)  # fmt: skip
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_second_writer_is_refused_naming_the_holder_and_a_dead_holders_lock_is_taken_over(
    cli, finished_run
):
    holder = _holder(finished_run)
    try:
        r = cli("train", "--resume", str(finished_run), "total_steps=400")
        assert r.returncode == 2 and f"PID {holder.pid}" in r.stderr, r.stderr
        assert "being written by another process" in r.stderr
        r = cli("eval", str(finished_run), "--episodes", "1")  # readers never lock
        assert r.returncode == 0, r.stderr
    finally:
        holder.kill()  # kill -9: the kernel releases its lock, the file stays
        holder.wait()
    assert (finished_run / ".lock").exists()
    r = cli("train", "--resume", str(finished_run), "total_steps=400")
    assert r.returncode == 0, r.stderr


def test_two_trainings_into_one_folder_at_once_one_is_refused(tmp_path):
    d = tmp_path / "run"
    cmd = [sys.executable, "-m", "dynaworld.cli", "train", str(ROOT / "configs/dqn_cartpole.yaml"),
           "total_steps=3000", "replay.learning_starts=100", "eval_every=0", "final_eval_episodes=1",
           "progress=false", "--run-dir", str(d)]  # fmt: skip
    first = subprocess.Popen(
        [*cmd, "seed=7"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for _ in range(600):
        if (d / "config.yaml").exists():
            break
        time.sleep(0.05)
    second = subprocess.run([*cmd, "seed=0"], capture_output=True, text=True, timeout=300)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 2, second.stderr
    assert (
        "being written by another process" in second.stderr
        or "already holds a run" in second.stderr
    )
    assert yaml.safe_load((d / "config.yaml").read_text())["seed"] == 7
    assert json.loads((d / "summary.json").read_text())["seed"] == 7


def test_a_second_sweep_into_a_locked_sweep_folder_is_refused_and_records_nothing(
    cli, shared_sweep
):
    before = _files(shared_sweep)
    holder = _holder(shared_sweep)
    try:
        r = cli("sweep", str(ROOT / "experiments/planning_shape.yaml"), *TINY_SWEEP, "--out",
                str(shared_sweep), "--seeds", "2", "--suite", "minatar", "--game", "Breakout",
                "--method", "dqn", "--workers", "1")  # fmt: skip
        assert r.returncode == 2 and f"PID {holder.pid}" in r.stderr, r.stderr
    finally:
        holder.kill()
        holder.wait()
    assert _files(shared_sweep) == before  # nothing recorded


# ------------------------------------------------------------------ a checkpoint is bound to its config


def test_resume_refuses_a_config_yaml_edited_after_the_checkpoint(cli, finished_run):
    path = finished_run / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["seed"], cfg["agent"]["lr"] = 3, 0.05
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    before = _files(finished_run)
    r = cli("train", "--resume", str(finished_run), "total_steps=400")
    assert r.returncode == 2 and "seed=0" in r.stderr and "agent.lr=" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and _files(finished_run) == before


def test_resume_refuses_a_truncated_config_yaml(cli, finished_run):
    path = finished_run / "config.yaml"
    path.write_text(path.read_text()[:200].rsplit("\n", 1)[0] + "\n")
    before = _files(finished_run)
    r = cli("train", "--resume", str(finished_run), "total_steps=400")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert _files(finished_run) == before  # never completed with defaults and written back


@pytest.mark.parametrize("edit, words", [
    (lambda s: s["components"].pop("agent"), "has no state for agent"),
    (lambda s: s["loop"].update(env_steps=10**9), "env_steps=1,000,000,000"),
    (lambda s: s["loop"].update(agent_updates=-1), "agent_updates=-1"),
    (lambda s: s["loop"].update(episodes="3"), "episodes='3'"),
])  # fmt: skip
def test_a_checkpoint_that_does_not_fit_its_run_is_a_named_error(cli, finished_run, edit, words):
    from dynaworld.checkpoint import latest_checkpoint

    path = latest_checkpoint(finished_run)
    state = torch.load(path, weights_only=True)
    edit(state)
    torch.save(state, path)
    r = cli("train", "--resume", str(finished_run), "total_steps=400")
    assert r.returncode == 2 and words in r.stderr and str(path) in r.stderr, r.stderr


def test_a_wrong_shaped_weight_is_a_named_error_on_eval_and_load(cli, finished_run):
    from dynaworld.checkpoint import latest_checkpoint

    path = latest_checkpoint(finished_run)
    state = torch.load(path, weights_only=True)
    agent = state["components"]["agent"]
    key = next(k for k, v in _tensors(agent) if v.ndim == 2)
    _set(agent, key, torch.zeros(3, 3))
    torch.save(state, path)
    for args in (["eval", str(finished_run), "--episodes", "1"],
                 ["train", "--resume", str(finished_run), "total_steps=400"]):  # fmt: skip
        r = cli(*args)
        assert r.returncode == 2 and str(path) in r.stderr and "Traceback" not in r.stderr, r.stderr
    with pytest.raises(DynaworldError, match="does not fit"):
        dynaworld.load(finished_run)


def _tensors(d, prefix=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _tensors(v, (*prefix, k))
        elif isinstance(v, torch.Tensor):
            yield (*prefix, k), v


def _set(d, key, value):
    for k in key[:-1]:
        d = d[k]
    d[key[-1]] = value
