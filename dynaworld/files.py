"""Every file dynaworld writes goes through here: atomic (a crash or kill mid-write never leaves
a half-written file in place) and never through a symbolic link, so a shared folder whose files
or subfolders are links cannot make dynaworld write anywhere else."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from dynaworld.errors import DynaworldError


def check_target(path: str | Path, root: str | Path | None = None) -> Path:
    """Raise unless ``path`` may be written: neither it nor a folder between ``root`` (default:
    its own folder) and it is a symbolic link. Creates the missing folders, checked likewise."""
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    try:
        below = path.relative_to(root).parts
    except ValueError:
        raise DynaworldError(
            f"{path} lies outside {root}: dynaworld writes only inside it"
        ) from None
    root.mkdir(parents=True, exist_ok=True)
    node = root
    for part in below:
        if part in ("..", ""):
            raise DynaworldError(f"{path}: '..' is not a name dynaworld writes")
        node = node / part
        if node.is_symlink():
            raise DynaworldError(
                f"{node} is a symbolic link: dynaworld never writes through a link (it could "
                "point anywhere); remove it, or write the run elsewhere"
            )
        if node != path and not node.exists():
            node.mkdir()
    return path


@contextmanager
def atomic_write(
    path: str | Path, mode: str = "wb", root: str | Path | None = None, **open_kw: Any
) -> Iterator[IO[Any]]:
    """Write to a new temporary file beside ``path``; on success fsync it and rename it over
    ``path`` (atomic on POSIX); on any error remove it and leave ``path`` untouched. Refuses a
    ``path`` that is, or lies under, a symbolic link below ``root`` (``check_target``)."""
    path = check_target(path, root)
    fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{path.name}"[:60], dir=path.parent)
    tmp = Path(name)
    try:
        with open(fd, mode, **open_kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def append_text(path: str | Path, root: str | Path | None = None) -> IO[str]:
    """``path`` opened to append text; never through a symbolic link (``check_target``, and
    ``O_NOFOLLOW`` against a link made after the check)."""
    path = check_target(path, root)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise DynaworldError(f"cannot append to {path}: {e.strerror}") from None
    return open(fd, "a", newline="")


def save_figure(fig: Any, path: str | Path, root: str | Path | None = None, **kw: Any) -> Path:
    """A matplotlib figure written as ``path`` (PNG; ``kw`` to savefig) through ``atomic_write``."""
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **kw)
    with atomic_write(path, "wb", root) as f:
        f.write(buf.getvalue())
    return Path(path)


MAX_JSON_BYTES = 16 << 20


def write_text(path: str | Path, text: str, root: str | Path | None = None) -> Path:
    """``text`` written as ``path`` through ``atomic_write``."""
    with atomic_write(path, "w", root) as f:
        f.write(text)
    return Path(path)


def read_json(path: str | Path, what: str = "file") -> dict[str, Any]:
    """A JSON object dynaworld wrote; a corrupt or truncated file is an error naming it."""
    try:
        if Path(path).stat().st_size > MAX_JSON_BYTES:
            raise OSError(f"larger than {MAX_JSON_BYTES:,} bytes")
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError) as e:
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
