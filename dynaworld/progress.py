"""Progress bars for long work: refreshed every second on a terminal, every 10 s when stderr is a
file (a sweep's or pretraining's log.txt), so a log shows progress without flooding."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def progress_bar(**kw: Any) -> tqdm:
    kw.setdefault("mininterval", 1.0 if sys.stderr.isatty() else 10.0)
    kw.setdefault("dynamic_ncols", True)
    return tqdm(**kw)
