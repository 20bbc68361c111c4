"""Importing what a config names (env modules, model classes): only code from outside the folders
being loaded, never a file inside a run, sweep or World Models folder someone shared.

A dotted name is checked level by level: each level's spec (its file, and a package's search
folders) is found without running anything, checked, and only then imported, so neither a
namespace package on ``sys.path`` nor a parent's ``__init__`` can reach into a loaded folder.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Roots = Path | str | Iterable[Path | str] | None


def _roots(refuse_under: Roots) -> list[Path]:
    if refuse_under is None:
        return []
    if isinstance(refuse_under, str | Path):
        refuse_under = [refuse_under]
    return [Path(r).resolve() for r in refuse_under]


def _places(spec: Any) -> list[str]:
    """The files and folders importing ``spec`` runs code from or searches."""
    origin = [spec.origin] if spec.origin and getattr(spec, "has_location", False) else []
    return [*(spec.submodule_search_locations or []), *origin]


def _check(name: str, what: str, spec: Any, roots: list[Path], shown: str) -> None:
    for place in _places(spec):
        for root in roots:
            if Path(place).resolve().is_relative_to(root):
                raise ImportError(
                    f"{what} '{shown}': '{name}' would come from {place}, inside {root}: code from "
                    "a run, sweep or World Models folder is never imported; install the package "
                    "that defines it"
                )


def import_installed(name: str, what: str, refuse_under: Roots = None) -> Any:
    """Import module ``name``; ``what`` names it in errors (ImportError). With ``refuse_under``
    (the folders being loaded), a module any level of which lies inside one of them is refused
    before any of it runs, so a shared folder cannot bring code of its own."""
    roots = _roots(refuse_under)
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        raise ImportError(f"{what} '{name}' is not a module name")
    module: Any = None
    for i in range(len(parts)):
        level = ".".join(parts[: i + 1])
        loaded = sys.modules.get(level)
        try:  # the parent is imported (and was checked): finding the spec runs nothing new
            spec = loaded.__spec__ if loaded is not None else importlib.util.find_spec(level)
        except (ImportError, ValueError, AttributeError) as e:
            raise ImportError(f"{what} '{name}' cannot be imported: {e}") from None
        if spec is None:
            raise ImportError(f"{what} '{name}' is not installed ('{level}' not found)")
        _check(level, what, spec, roots, name)
        try:
            module = importlib.import_module(level)
        except ImportError as e:
            raise ImportError(f"{what} '{name}' cannot be imported: {e}") from None
    return module


def load_entry_point(ref: str, what: str, refuse_under: Roots = None) -> Any:
    """The object named by 'package.module:attribute'."""
    module, _, attr = ref.partition(":")
    obj = import_installed(module, what, refuse_under)
    try:
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ImportError(f"{what} '{ref}': module '{module}' has no '{attr}'") from None
    return obj
