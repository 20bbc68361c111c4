"""Where parallel work runs: local worker processes, or Ray tasks on a cluster (the same code path).

Both pools offer ``submit(fn, *args) -> Future`` and ``shutdown()``; ``fn`` must be a module-level
function. Workers cache heavy objects (models) in module globals, so a process or Ray worker loads
them once and reuses them across tasks.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Protocol


class Pool(Protocol):
    def submit(self, fn: Any, /, *args: Any) -> Future[Any]: ...
    def shutdown(self, wait: bool = True) -> None: ...


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when its parent is gone (killed, even by SIGKILL),
    so an interrupted sweep or CMA-ES run never leaves orphans using the CPU."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def local_pool(workers: int) -> Pool:
    """``workers`` fresh ('spawn') processes: no state inherited from the parent's threads."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


class RayPool:
    """The ``submit`` interface backed by Ray tasks (``address='local'`` starts a cluster here)."""

    def __init__(self, address: str, workers: int) -> None:
        import ray

        if ray.is_initialized():
            pass
        elif address == "local":
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                _temp_dir=str(
                    Path(os.environ.get("DYNAWORLD_RAY_TMP", "/tmp/dynaworld-ray")).resolve()
                ),
            )
        else:
            ray.init(address=address, log_to_driver=False)
        self.ray = ray
        self.remotes: dict[Any, Any] = {}

    def submit(self, fn: Any, /, *args: Any) -> Future[Any]:
        if fn not in self.remotes:
            self.remotes[fn] = self.ray.remote(num_cpus=1)(fn)
        return self.remotes[fn].remote(*args).future()

    def shutdown(self, wait: bool = True) -> None:
        self.ray.shutdown()


def make_pool(workers: int, ray_address: str | None = None) -> Pool:
    return RayPool(ray_address, workers) if ray_address else local_pool(workers)
