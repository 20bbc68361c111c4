"""Your own code inside a run: ``dynaworld.train(config, callbacks=[MyCallback()])``.

Subclass ``Callback`` (or pass any object with some of these methods); each is called in the
training process, in order, and only observes (a callback that wants to stop a run raises).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dynaworld.loop import LoopState
from dynaworld.types import Transition

HOOKS = ("on_step", "on_evaluation", "on_checkpoint")


class Callback:
    def on_step(self, transition: Transition, state: LoopState) -> None:
        """After each real step: the transition (s, a, r, s', done, info) and the loop's counters."""

    def on_evaluation(self, step: int, returns: np.ndarray) -> None:
        """After each evaluation (every ``eval_every`` steps and the final one): episode returns."""

    def on_checkpoint(self, step: int, path: Path) -> None:
        """After a checkpoint is written whole (``path``: its state.pt)."""


def check_callbacks(callbacks: Any) -> list[Any]:
    """The callbacks as a list; an object with none of the hooks is named before any work."""
    out = list(callbacks or ())
    for cb in out:
        if not any(callable(getattr(cb, h, None)) for h in HOOKS):
            raise TypeError(f"callback {cb!r} has none of {', '.join(HOOKS)}")
    return out


def call(callbacks: list[Any], hook: str, *args: Any) -> None:
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(*args)
