"""What a directory dynaworld writes is, and how it was made.

``run.json`` names its kind (an agent run, a World Models run, a sweep folder, a dataset); every
command checks it with ``claim`` before it writes anything, so no command writes into another
command's directory. ``history.jsonl`` gets one line per event that changed how the run is made
(created, resumed with overrides, a World Models stage run with new settings), so config.yaml
plus the history say exactly how the run was made.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from dynaworld import __version__
from dynaworld.errors import DynaworldError
from dynaworld.files import atomic_write

KINDS = {
    "train": "an agent run (made by 'dynaworld train')",
    "worldmodels": "a World Models run (made by 'dynaworld worldmodels')",
    "sweep": "a sweep folder (made by 'dynaworld sweep')",
    "dataset": "a dataset (made by 'dynaworld collect')",
}
KIND_FILE, HISTORY_FILE = "run.json", "history.jsonl"
_WM_KEYS = ("data_dir", "vae", "mdn", "controller", "es")  # config.yaml keys only WM runs have


def kind_of(d: str | Path) -> str | None:
    """The kind of directory ``d`` (also for directories made before run.json existed)."""
    d = Path(d)
    if (d / KIND_FILE).is_file():
        try:
            kind = json.loads((d / KIND_FILE).read_text()).get("kind")
        except (json.JSONDecodeError, AttributeError) as e:
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


def record(d: str | Path, event: str, **fields: Any) -> None:
    """Append one event (with the time and the command line) to ``d/history.jsonl``."""
    line = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "event": event,
        "argv": sys.argv[1:],
        "dynaworld": __version__,
        **fields,
    }
    with open(Path(d) / HISTORY_FILE, "a") as f:
        f.write(json.dumps(line) + "\n")


def history(d: str | Path) -> list[dict[str, Any]]:
    p = Path(d) / HISTORY_FILE
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
