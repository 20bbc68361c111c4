"""The one checkpoint scheme: atomic files that load with ``torch.load(weights_only=True)``.

Every state file dynaworld writes (the trainer's checkpoints, V's and M's ``*.ckpt`` and ``*.pt``,
CMA-ES's ``es_state.pt``, pretrained models) is written by ``save_file`` under a temporary name,
synced and renamed into place, so a crash never leaves a half-written file under a real name, and
read by ``load_file``. What is not a tensor (an env's state, emulator snapshots) travels as
``plain`` data: loading a file from an untrusted source cannot run code. The trainer's checkpoint
is a directory ``checkpoints/step_<N>/state.pt`` (the newest ``keep`` are kept).
"""

from __future__ import annotations

import errno
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch

from dynaworld.errors import CheckpointError
from dynaworld.files import check_target

PREFIX = "step_"


def checkpoint_dirs(run_dir: str | Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    dirs = [
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and p.name[len(PREFIX) :].isdigit()
    ]
    return sorted(dirs, key=lambda p: int(p.name[len(PREFIX) :]))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    dirs = checkpoint_dirs(run_dir)
    return dirs[-1] / "state.pt" if dirs else None


def step_of(path: str | Path) -> int | None:
    """The step of checkpoint file ``.../step_<N>/state.pt`` (None for another name)."""
    name = Path(path).parent.name
    return (
        int(name[len(PREFIX) :])
        if name.startswith(PREFIX) and name[len(PREFIX) :].isdigit()
        else None
    )


def remove_partial(run_dir: str | Path) -> list[Path]:
    """Delete temporary checkpoint directories left by a crash (kill -9, a full disk)."""
    root = Path(run_dir) / "checkpoints"
    stale = sorted(root.glob(".tmp-*")) if root.is_dir() else []
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return stale


def save_file(state: Any, path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (its folder is created). A full disk (or any write
    error) removes the partial file and raises CheckpointError naming the space it needs."""
    final = check_target(path)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:  # a new file (O_EXCL), never through a link planted under the temporary name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with open(os.open(tmp, flags, 0o644), "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
    except (OSError, RuntimeError) as e:  # torch wraps ENOSPC in a RuntimeError
        tmp.unlink(missing_ok=True)
        need = _nbytes(state)
        free = shutil.disk_usage(final.parent).free
        full = isinstance(e, OSError) and e.errno == errno.ENOSPC or "No space" in str(e)
        why = "the disk is full" if full or free < need else f"{type(e).__name__}: {e}"
        raise CheckpointError(
            f"cannot write {final}: {why} (it needs about {need / 2**20:,.0f} MiB, "
            f"{free / 2**20:,.0f} MiB are free); the previous checkpoint is intact: free space, then resume"
        ) from None
    os.replace(tmp, final)
    return final


def save_checkpoint(run_dir: str | Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as checkpoint ``step``; the previous ones stay intact until it is whole.

    A full disk (or any write error) removes the partial checkpoint and raises CheckpointError
    naming the directory and the space the checkpoint needs.
    """
    root = check_target(Path(run_dir) / "checkpoints", run_dir)
    root.mkdir(exist_ok=True)
    final = root / f"{PREFIX}{step:010d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_file(state, tmp / "state.pt")
    except CheckpointError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"checkpoint step {step:,}: {e}") from None
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoint_dirs(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final / "state.pt"


def _nbytes(v: Any) -> int:
    """Roughly the bytes ``torch.save`` writes for ``v``."""
    if isinstance(v, torch.Tensor):
        return v.numel() * v.element_size()
    if isinstance(v, dict):
        return sum(_nbytes(x) for x in v.values())
    if isinstance(v, list | tuple):
        return sum(_nbytes(x) for x in v)
    return len(v) if isinstance(v, bytes | str) else 8


def check_archive(p: Path, what: str) -> None:
    """Refuse a file whose contents would inflate beyond its size: ``torch.save`` stores its
    entries uncompressed, so a compressed entry (a 1 MB file that unpacks to 1 GiB) is never one
    dynaworld wrote."""
    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError):
        return  # not a zip: torch.load names it truncated or corrupt
    unpacked = sum(i.file_size for i in infos)
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos) or unpacked > p.stat().st_size:
        raise CheckpointError(
            f"{what} {p} holds compressed entries ({unpacked:,} bytes unpacked from "
            f"{p.stat().st_size:,}): torch.save never compresses, so dynaworld did not write it; refused"
        )


def load_file(path: str | Path, what: str = "file") -> Any:
    """A file dynaworld wrote with ``torch.save``, read with ``weights_only=True``: tensors and
    plain data only, so a crafted file cannot run code. Errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{what} not found: {p}")
    check_archive(p, what)
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, a pickle that names a class, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        refused = "weights only load failed" in str(e).lower()
        why = (
            "holds something other than tensors and plain data: refused, it could run code"
            if refused
            else f"is truncated or corrupt ({type(e).__name__}: {first})"
        )
        raise CheckpointError(f"{what} {p} {why}") from None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        state = load_file(p, "checkpoint")
    except CheckpointError as e:
        older = [d for d in checkpoint_dirs(p.parent.parent.parent) if d != p.parent]
        hint = (
            f"; the previous one is {older[-1]}: delete {p.parent} to resume from it"
            if older and p.is_file()
            else ""
        )
        raise CheckpointError(f"{e}{hint}") from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{p} is not a dynaworld checkpoint")
    return state
