"""Where parallel work runs: local worker processes, or Ray tasks on a cluster (the same code path).

Both pools offer ``submit(fn, *args) -> Future`` and ``shutdown()``; ``fn`` must be a module-level
function. Workers cache heavy objects (models) in module globals, so a process or Ray worker loads
them once and reuses them across tasks.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import socket
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Protocol

from dynaworld.errors import DynaworldError
from dynaworld.progress import progress_bar


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
    """The ``submit`` interface backed by Ray tasks (``address='local'`` starts a cluster here).

    A local cluster is a new one of this process's own (its own temp dir and ports), so two
    sweeps on one machine never join or stop each other's. A cluster address is checked first:
    one that does not answer is an error within ``CONNECT_TIMEOUT_S``, not an endless retry.
    """

    CONNECT_TIMEOUT_S = 20.0

    def __init__(self, address: str, workers: int) -> None:
        import ray

        if address != "local" and not ray.is_initialized():
            check_ray_address(address, self.CONNECT_TIMEOUT_S)
        self.tmp: str | None = None
        if ray.is_initialized():
            pass
        elif address == "local":
            root = Path(os.environ.get("DYNAWORLD_RAY_TMP", tempfile.gettempdir()))
            root.mkdir(parents=True, exist_ok=True)
            self.tmp = tempfile.mkdtemp(prefix="dwray-", dir=root)
            ray.init(
                address="local",  # always a new cluster: never one another process started
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                _temp_dir=self.tmp,
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
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def check_ray_address(address: str, timeout: float) -> None:
    """Raise (naming ``address``) unless a TCP connection to it opens within ``timeout``."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    if hostport == "auto":
        return  # Ray finds the cluster this machine's 'ray start' made (and says if none)
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise DynaworldError(
            f"--ray {address}: expected HOST:PORT of a cluster's head (e.g. 10.0.0.5:6379), "
            "'auto', or 'local' to start one here"
        )
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=2.0):
                return
        except OSError as e:
            if time.monotonic() > deadline:
                raise DynaworldError(
                    f"--ray {address}: no Ray cluster answers there ({e}) after {timeout:.0f} s. "
                    "Start one with 'ray start --head --port=PORT' on the head machine and pass "
                    "HOST:PORT, or use --ray local to start one on this machine"
                ) from None
            time.sleep(1.0)


def make_pool(workers: int, ray_address: str | None = None) -> Pool:
    return RayPool(ray_address, workers) if ray_address else local_pool(workers)


def gather(futures: list[Future[Any]], **bar: Any) -> list[Any]:
    """The futures' results in the order they finish, under a progress bar (``bar``: its
    ``progress_bar`` arguments, e.g. desc, unit, total, initial, disable)."""
    shown = progress_bar(**{"total": len(futures), **bar})
    out = []
    for f in as_completed(futures):
        out.append(f.result())
        shown.update()
    shown.close()
    return out
