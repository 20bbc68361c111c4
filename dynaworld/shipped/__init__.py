"""The configs and experiment specs that ship with dynaworld, addressable by name.

``dynaworld train dqn_cartpole`` finds ``shipped/configs/dqn_cartpole.yaml`` and ``dynaworld sweep
planning_shape`` ``shipped/experiments/planning_shape.yaml``; an existing path always wins. In a
source checkout ``configs/`` and ``experiments/`` are links to these folders.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from dynaworld.errors import ConfigError

ROOT = Path(__file__).resolve().parent
KINDS = {"config": ROOT / "configs", "experiment": ROOT / "experiments"}


def names(kind: str) -> list[str]:
    """The shipped configs ('config') or experiment specs ('experiment'), by name."""
    return sorted(p.stem for p in KINDS[kind].glob("*.yaml"))


def resolve(name_or_path: str | Path, kind: str = "config") -> Path:
    """An existing file, else the shipped one of that name (with or without '.yaml', with or
    without a leading 'configs/' / 'experiments/'); else an error naming what ships."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    stem = p.name.removesuffix(".yaml").removesuffix(".yml")
    shipped = KINDS[kind] / f"{stem}.yaml"
    if shipped.is_file() and (len(p.parts) == 1 or p.parent.name in ("configs", "experiments")):
        return shipped
    close = difflib.get_close_matches(stem, names(kind), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    raise ConfigError(
        f"{kind} file not found: {name_or_path}{hint} (shipped {kind}s: {', '.join(names(kind))};"
        f" 'dynaworld config --list')"
    )
