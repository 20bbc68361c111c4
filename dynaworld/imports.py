"""Importing what a config names (env modules, model classes): only installed packages, never a
file inside a run directory that is being loaded."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any


def import_installed(name: str, what: str, refuse_under: Path | None = None) -> Any:
    """Import module ``name``; ``what`` names it in errors (ImportError). With ``refuse_under``
    (a run directory being loaded), a module whose package lies inside it is refused before any
    of it runs, so a shared folder cannot bring code of its own."""
    top = name.split(".")[0]
    try:  # a top-level name is found without importing anything
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError) as e:
        raise ImportError(f"{what} '{name}' cannot be imported: {e}") from None
    if spec is None:
        raise ImportError(f"{what} '{name}' is not installed")
    places = [*(spec.submodule_search_locations or []), *([spec.origin] if spec.origin else [])]
    if refuse_under is not None:
        root = Path(refuse_under).resolve()
        inside = [p for p in places if Path(p).resolve().is_relative_to(root)]
        if inside:
            raise ImportError(
                f"{what} '{name}' would come from {inside[0]}, inside {refuse_under}: code from a "
                "run directory is never imported; install the package that defines it"
            )
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"{what} '{name}' cannot be imported: {e}") from None


def load_entry_point(ref: str, what: str, refuse_under: Path | None = None) -> Any:
    """The object named by 'package.module:attribute'."""
    module, _, attr = ref.partition(":")
    obj = import_installed(module, what, refuse_under)
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ImportError(f"{what} '{ref}': module '{module}' has no '{attr}'") from None
    return obj
