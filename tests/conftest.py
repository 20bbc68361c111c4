import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
os.environ.setdefault("PYTHONHASHSEED", "0")


def run_isolated(fn, *args: str, timeout: float = 900) -> None:
    """Run the module-level function ``fn(*args)`` (its asserts are the test) in a fresh
    interpreter, so a native crash (Ray, VizDoom, envpool) fails the calling test only."""
    import inspect
    import subprocess

    code = (
        "import importlib.util as u, sys; s = u.spec_from_file_location('isolated', sys.argv[1]); "
        "m = u.module_from_spec(s); s.loader.exec_module(m); getattr(m, sys.argv[2])(*sys.argv[3:])"
    )
    args = (inspect.getfile(fn), fn.__name__, *args)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    r = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )  # fmt: skip
    if r.returncode != 0:
        how = f"signal {-r.returncode}" if r.returncode < 0 else f"exit {r.returncode}"
        pytest.fail(
            f"{fn.__name__} failed in its subprocess ({how}):\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}",
            pytrace=False,
        )


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
