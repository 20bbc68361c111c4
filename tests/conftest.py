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
