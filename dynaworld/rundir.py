"""What a directory dynaworld writes is, and how it was made.

``run.json`` names its kind (an agent run, a World Models run, a sweep folder, a dataset); every
command checks it with ``claim`` before it writes anything, so no command writes into another
command's directory. ``history.jsonl`` gets one line per event that changed how the run is made
(created, resumed with overrides, a World Models stage run with new settings), so config.yaml
plus the history say exactly how the run was made.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from dynaworld.errors import DynaworldError
from dynaworld.files import append_text, atomic_write, check_target
from dynaworld.version import __version__

KINDS = {
    "train": "an agent run (made by 'dynaworld train')",
    "worldmodels": "a World Models run (made by 'dynaworld worldmodels')",
    "sweep": "a sweep folder (made by 'dynaworld sweep')",
    "dataset": "a dataset (made by 'dynaworld collect')",
}
KIND_FILE, HISTORY_FILE, LOCK_FILE = "run.json", "history.jsonl", ".lock"
_WM_KEYS = ("data_dir", "vae", "mdn", "controller", "es")  # config.yaml keys only WM runs have


def kind_of(d: str | Path) -> str | None:
    """The kind of directory ``d`` (also for directories made before run.json existed)."""
    d = Path(d)
    if (d / KIND_FILE).is_file():
        try:
            kind = json.loads((d / KIND_FILE).read_text()).get("kind")
        except (ValueError, AttributeError) as e:  # bad JSON, bad UTF-8, not an object
            raise DynaworldError(f"{d / KIND_FILE} is corrupt ({e})") from None
        return kind if kind in KINDS else None
    if (d / "experiment.yaml").is_file():
        return "sweep"
    if (d / "meta.json").is_file():
        return "dataset"
    if (d / "config.yaml").is_file():
        try:
            keys = set(yaml.safe_load((d / "config.yaml").read_text()) or {})
        except yaml.YAMLError:
            return None
        return "worldmodels" if keys & set(_WM_KEYS) else "train"
    return None


def loaded_folders(d: str | Path) -> list[Path]:
    """``d`` and every folder above it that dynaworld made (a sweep holding the run, a World
    Models run): the folders whose files are never imported as code when ``d`` is loaded."""
    d = Path(d).resolve()
    return [
        d,
        *(p for p in d.parents if (p / KIND_FILE).is_file() or (p / "experiment.yaml").is_file()),
    ]


def check_kind(d: str | Path, kind: str, command: str) -> None:
    """Raise unless ``d`` is absent, empty or of ``kind``; writes nothing."""
    d = Path(d)
    if d.exists() and not d.is_dir():
        raise DynaworldError(f"{d} is a file, not a directory: '{command}' needs a directory")
    found = kind_of(d) if d.is_dir() else None
    if found is not None and found != kind:
        raise DynaworldError(
            f"{d} is {KINDS[found]}; '{command}' works on {KINDS[kind]}: choose another directory"
        )


def claim(d: str | Path, kind: str, command: str) -> Path:
    """``check_kind``, then create ``d`` and mark it as ``kind``."""
    d = Path(d)
    check_kind(d, kind, command)
    d.mkdir(parents=True, exist_ok=True)
    if not (d / KIND_FILE).exists():
        with atomic_write(d / KIND_FILE, "w") as f:
            json.dump({"kind": kind, "dynaworld": __version__}, f)
    return d


_held: dict[Path, int] = {}  # folder -> the open, locked descriptor of its LOCK_FILE


def lock(d: str | Path) -> None:
    """Make this process the one writer of folder ``d`` (created if absent) until it exits or
    calls ``unlock``: an OS lock (``flock``) on ``d/.lock``, which the kernel releases when the
    holder dies, so a lock left by a killed process is simply taken over. A second writer is
    refused at once, naming the holder's PID and command. Readers never lock."""
    d = Path(d)
    key = d.resolve()
    if key in _held:
        return
    d.mkdir(parents=True, exist_ok=True)
    path = check_target(d / LOCK_FILE, d)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        raise DynaworldError(f"cannot lock {d} ({path}: {e.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held = os.read(fd, 4096).decode("utf-8", "replace")
        os.close(fd)
        try:
            who = json.loads(held)
            holder = f"PID {int(who['pid'])}: {str(who['command'])[:200]}"
        except (ValueError, KeyError, TypeError):
            holder = "a process that left no record"
        raise DynaworldError(
            f"{d} is being written by another process ({holder}); one writer per folder: wait "
            "for it to finish, or choose another folder"
        ) from None
    me = {"pid": os.getpid(), "command": " ".join(["dynaworld", *sys.argv[1:]]),
          "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(me).encode())
    _held[key] = fd


def check_no_links(d: str | Path, names: tuple[str, ...] | None = None) -> None:
    """Raise unless no entry of ``d`` (those ``names``, or all) nor inside its subfolders among
    them is a symbolic link: checked before a command writes anything, so a shared folder's
    links are refused up front rather than half-way through."""
    d = Path(d)
    if not d.is_dir():
        return
    top = [d / n for n in names] if names is not None else list(d.iterdir())
    for p in top:
        inner = list(p.iterdir()) if p.is_dir() and not p.is_symlink() else []
        for q in (p, *inner):
            if q.is_symlink():
                raise DynaworldError(
                    f"{q} is a symbolic link: dynaworld never writes through a link (it could "
                    "point anywhere); remove it, or copy the folder without links"
                )


def unlock(d: str | Path) -> None:
    """Give up this process's lock of ``d`` (``lock``)."""
    fd = _held.pop(Path(d).resolve(), None)
    if fd is not None:
        os.close(fd)


def record(d: str | Path, event: str, **fields: Any) -> None:
    """Append one event (with the time and the command line) to ``d/history.jsonl``."""
    line = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "event": event,
        "argv": sys.argv[1:],
        "dynaworld": __version__,
        **fields,
    }
    with append_text(Path(d) / HISTORY_FILE) as f:
        f.write(json.dumps(line) + "\n")


def history(d: str | Path) -> list[dict[str, Any]]:
    p = Path(d) / HISTORY_FILE
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
