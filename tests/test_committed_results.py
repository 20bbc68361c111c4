"""A headline result re-evaluates from its committed folder on a fresh clone: the same V, M and C
play the first test-block episode and score what the committed eval_test.json says."""

import json
import shutil

import pytest

from tests.conftest import ROOT

CARRACING = ROOT / "docs/results/worldmodels_carracing/long_run"


def test_the_carracing_long_run_replays_its_first_test_episode(cli, tmp_path):
    pytest.importorskip("envpool")  # the run's env.backend
    pytest.importorskip("Box2D")
    run = tmp_path / "long_run"  # a copy: evaluating writes eval_test.json
    shutil.copytree(CARRACING, run)
    committed = json.loads((CARRACING / "C_full" / "eval_test.json").read_text())
    r = cli("worldmodels", "evaluate", str(run), "--episodes", "1", "--seeds", "test")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["block"] == "test" and out["params_sha256"] == committed["params_sha256"]
    assert out["mean"] == pytest.approx(committed["returns"][0], abs=0.005)  # stored to 0.01
