"""docs/cli.md and docs/config.md are generated from the parser and the config fields' docs."""

from dynaworld.cli.reference import main
from tests.conftest import ROOT


def test_the_cli_and_config_reference_pages_match_the_code(capsys):
    assert main([str(ROOT / "docs"), "--check"]) == 0, capsys.readouterr().out


def test_the_documentation_site_builds_with_every_page_and_no_warning(tmp_path):
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    for page in ("index.html", "guide/index.html", "cli/index.html", "config/index.html",
                 "howto/index.html", "api/index.html", "results/planning_shape_pilot/index.html",
                 "results/many_seeds/index.html"):  # fmt: skip
        assert (site / page).stat().st_size > 2000, page
    assert "Algorithm 1" in (site / "index.html").read_text()
    api = (site / "api" / "index.html").read_text()
    assert "train_seeds" in api and "Prediction" in api and "on_checkpoint" in api  # docstrings
    assert not list(site.rglob("*.pt")) and not list(site.rglob("*.npy"))  # pages, not data
