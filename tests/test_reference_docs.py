"""docs/cli.md and docs/config.md are generated from the parser and the config fields' docs."""

from dynaworld.reference import main
from tests.conftest import ROOT


def test_the_cli_and_config_reference_pages_match_the_code(capsys):
    assert main([str(ROOT / "docs"), "--check"]) == 0, capsys.readouterr().out
