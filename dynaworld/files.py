"""Atomic file writes: a crash or kill mid-write never leaves a half-written file in place."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from dynaworld.errors import DynaworldError


def tmp_name(path: Path) -> Path:
    """The temporary sibling that ``atomic_write`` uses (``.tmp-*``: cleanup may glob for it)."""
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb", **open_kw: Any) -> Iterator[IO[Any]]:
    """Write to a temporary file beside ``path``; on success fsync it and rename it over
    ``path`` (atomic on POSIX); on any error remove it and leave ``path`` untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        with open(tmp, mode, **open_kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: str | Path, what: str = "file") -> dict[str, Any]:
    """A JSON object dynaworld wrote; a corrupt or truncated file is an error naming it."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DynaworldError(
            f"{what} {path} is unreadable or corrupt ({type(e).__name__}: {e}); "
            "delete it to make it again"
        ) from None
    if not isinstance(data, dict):
        raise DynaworldError(f"{what} {path} is not a JSON object")
    return data


def load_npz(
    path: str | Path, keys: tuple[str, ...] | None = None, what: str = "array file"
) -> dict[str, Any]:
    """The arrays of an ``.npz`` file, read with ``allow_pickle=False`` (object arrays are
    refused); an unreadable file is an error naming it."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in (keys or z.files)}
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear error
        why = (  # numpy reads a non-zip file as a pickle: never, here
            "not an .npz archive of arrays: truncated, or pickled objects, which are never loaded"
            if "pickle" in str(e)
            else f"{type(e).__name__}: {e}"
        )
        raise DynaworldError(
            f"{path}: the {what} is truncated or corrupt ({why}); delete it to make it again"
        ) from None
