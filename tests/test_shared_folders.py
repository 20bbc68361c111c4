"""Claims: a run or sweep folder someone shares cannot run code, write outside itself, or be
written by two processes at once (issue 42).

Every code-execution case puts a module inside the shared folder that would create a marker file
when imported; the marker never appears, and the refusal names the module and the folder.
"""

import shutil
import subprocess
import sys

import pytest
import yaml

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
    for entry, run in entries.items():
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
