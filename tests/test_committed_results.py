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


def test_the_cost_figure_draws_the_long_runs_own_evaluations(tmp_path):
    """Route (a) of CarRacing's cost figure is the long run's record: its five CMA-ES evaluations
    at their logged cost, then its test-block score; the figure is drawn from them."""
    from PIL import Image

    from dynaworld.studies.worldmodels.routes import real_es_route, reference_route, routes_figure

    folder = ROOT / "docs" / "results" / "worldmodels_carracing" / "long_run" / "C_full"
    points = real_es_route(folder, 1.5, 1_344_113)
    assert [round(p.score, 1) for p in points] == [337.1, 545.8, 623.1, 653.4, 755.4, 791.2]
    assert [p.block for p in points] == ["cma-es"] * 5 + ["test"]
    assert points[-1].core_hours == pytest.approx(1.5 + 43_534.1 / 3600)
    assert points[-1].real_steps == 1_344_113 + 25 * 64 * 16 * 1_000
    path = routes_figure({"(a)": points, "reference": reference_route(1.5, 1_344_113)}, tmp_path / "r.png")  # fmt: skip
    with Image.open(path) as img:
        assert img.size[0] > img.size[1] > 300
