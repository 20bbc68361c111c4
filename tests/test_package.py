"""The installed package runs the README: a wheel built from this checkout, installed in a fresh
venv, trains and evaluates by config name from an empty directory; every import is declared."""

import ast
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_trains_and_evaluates_by_config_name_outside_the_repo(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheel"), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    wheel = next((tmp_path / "wheel").glob("dynaworld-*.whl"))
    # exactly the package's modules (a stale build/ from an older layout would add its own)
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    assert shipped == {str(p.relative_to(ROOT)) for p in (ROOT / "dynaworld").rglob("*.py")}
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    # The dependencies come from this interpreter's site-packages (its .pth files are not read,
    # so this checkout's editable dynaworld is not on the path); dynaworld only from the wheel.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    empty = tmp_path / "empty"
    empty.mkdir()

    def run(*args: str) -> subprocess.CompletedProcess:
        code = "import sys; from dynaworld.cli import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run([py, "-c", code, *args], cwd=empty, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip

    where = subprocess.run([py, "-c", "import dynaworld; print(dynaworld.__file__)"], cwd=empty, env=env, capture_output=True, text=True)  # fmt: skip
    assert where.stdout.startswith(site), where.stdout + where.stderr
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("dynaworld "), r.stderr
    r = run("config", "--list")
    assert "dqn_cartpole" in r.stdout and "planning_shape" in r.stdout, r.stderr
    r = run(
        "train", "dqn_cartpole", "total_steps=600", "replay.learning_starts=200", "eval_every=0",
        "final_eval_episodes=2", "progress=false", "--run-dir", "run",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (empty / "run" / "summary.json").exists()
    r = run("eval", "run", "--episodes", "2")
    assert r.returncode == 0 and "mean" in r.stdout, r.stdout + r.stderr
    r = run("worldmodels", "run", "--run-dir", "wm")
    assert (
        r.returncode == 2 and "worldmodels_doom_small" in r.stderr and not (empty / "wm").exists()
    )


def test_every_imported_package_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *(r for rs in project["optional-dependencies"].values() for r in rs)]  # fmt: skip
    declared = set()
    for req in reqs:
        name = req.split(";")[0].split("[")[0]
        for op in "<>=!~ ":
            name = name.split(op)[0]
        declared.add(name.strip().lower().replace("_", "-"))
    dists = packages_distributions()
    missing = {}
    for p in (ROOT / "dynaworld").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                if top in sys.stdlib_module_names or top == "dynaworld":
                    continue
                found = {d.lower().replace("_", "-") for d in dists.get(top, [top])}
                if not found & declared:
                    missing.setdefault(top, str(p.relative_to(ROOT)))
    assert missing == {}


def test_the_base_install_draws_the_first_minutes_gif():
    # the README's first minute records CartPole as a GIF: gymnasium draws it with pygame, which
    # only the classic-control extra installs (Box2D's extra brings it to the dev install too)
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(r.startswith(("gymnasium[classic-control]", "pygame")) for r in base), base
