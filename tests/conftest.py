import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture
def cli():
    """Run the real ``dynaworld`` command in a subprocess; returns CompletedProcess."""
    import subprocess

    def run(
        *args: str, timeout: float = 600, cwd: str | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "dynaworld.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
        )

    return run


@pytest.fixture(scope="session")
def finished_run_template(tmp_path_factory):
    """A real, finished 300-step CartPole run with a checkpoint (copy it before changing it)."""
    import subprocess
    import sys

    d = tmp_path_factory.mktemp("trust") / "run"
    r = subprocess.run(
        [sys.executable, "-m", "dynaworld.cli", "train", str(CONFIGS / "dqn_cartpole.yaml"),
         "total_steps=300", "replay.learning_starts=100", "checkpoint_every=200",
         "eval_every=300", "eval_episodes=1", "final_eval_episodes=1", "progress=false",
         "--run-dir", str(d)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture
def finished_run(finished_run_template, tmp_path):
    """A copy of ``finished_run_template`` of this test's own."""
    import shutil

    return Path(shutil.copytree(finished_run_template, tmp_path / "finished_run"))
