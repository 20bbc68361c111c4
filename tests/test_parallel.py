"""Worker pools: a killed parent leaves no worker behind."""

import os
import signal
import subprocess
import sys
import time

SCRIPT = """
import os, time
from dynaworld.parallel import local_pool

def pid_then_sleep(_):
    return os.getpid()

if __name__ == "__main__":
    pool = local_pool(1)
    print(pool.submit(pid_then_sleep, 0).result(), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has exited
        return f.read().split()[2] != "Z"


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    assert _alive(worker)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 15
    while _alive(worker) and time.time() < deadline:
        time.sleep(0.2)
    assert not _alive(worker)
