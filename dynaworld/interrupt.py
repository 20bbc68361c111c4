"""Ctrl-C as a request: the first SIGINT asks the run to stop after the current step with a
checkpoint (it then resumes exactly); a second one interrupts at once."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_interrupt(ask: Callable[[], None]) -> Iterator[None]:
    """While inside, the first Ctrl-C calls ``ask`` (outside the main thread: nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum: int, frame: Any) -> None:
        ask()
        signal.signal(signal.SIGINT, previous)
        print("\ndynaworld: stopping after this step with a checkpoint (Ctrl-C again: at once)",
              file=sys.stderr, flush=True)  # fmt: skip

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
