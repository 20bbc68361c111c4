"""Atomic writes: an error mid-write keeps the old file and leaves no temporary behind."""

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
