"""Atomic writes (an error mid-write keeps the old file, no temporary left) and the run log."""

import pytest

from dynaworld.files import atomic_write
from dynaworld.runlog import write_json


def test_atomic_write_replaces_on_success_and_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "sub" / "state.json"
    write_json(path, {"generation": 1})  # creates the folder
    assert path.read_text().strip().startswith("{")
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_write(path, "w") as f:
            f.write('{"generation": 2, "half-writ')
            raise RuntimeError("killed mid-write")
    assert '"generation": 1' in path.read_text()
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]
    with atomic_write(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new"


def test_run_log_keeps_nan_in_the_csv_and_out_of_tensorboard(tmp_path, caplog):
    from dynaworld.runlog import RunLogger

    log = RunLogger(tmp_path, columns=["env_steps", "model_loss", "loss"])
    log.log(10, {"model_loss": float("nan"), "loss": 0.5})  # a GP's loss before its first fit
    log.close()
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0] == "env_steps,model_loss,loss" and rows[1].startswith("10,nan,0.5")
    assert "NaN or Inf" not in caplog.text


def test_the_command_line_states_its_version():
    import subprocess
    import sys

    from dynaworld import __version__

    r = subprocess.run(
        [sys.executable, "-m", "dynaworld.cli", "--version"], capture_output=True, text=True
    )
    assert r.returncode == 0 and r.stdout.strip() == f"dynaworld {__version__}"
