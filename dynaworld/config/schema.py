"""Typed configuration: dataclasses whose fields carry their own documentation and checks.

``doc`` declares a field (default, help, check); ``from_dict`` builds a config from nested data,
type-checking and range-checking every value and naming the closest valid key for an unknown one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from typing import Any, TypeVar

from dynaworld.errors import ConfigError

T = TypeVar("T")
Check = Callable[[Any], str | None]


def doc(default: Any, help: str, check: Check | None = None) -> Any:
    """A dataclass field with its documentation (``help``) and an optional value check."""
    meta = {"help": help, "check": check}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def positive(x: Any) -> str | None:
    return None if x is None or x > 0 else "must be > 0"


def non_negative(x: Any) -> str | None:
    return None if x is None or x >= 0 else "must be >= 0"


def seed_range(x: Any) -> str | None:
    return None if x is None or 0 <= x < 2**31 else "must be in [0, 2**31)"


def unit_interval(x: Any) -> str | None:
    return None if x is None or 0.0 <= x <= 1.0 else "must be in [0, 1]"


def positive_items(x: Any) -> str | None:
    return None if all(v > 0 for v in x) and len(x) > 0 else "must be a non-empty list of sizes > 0"


class RawOverride(str):
    """A ``key=value`` override's text, with YAML's reading of it in ``parsed``: a str-typed key
    takes the text (``planning.shape=0x10`` stays '0x10', not YAML's hex 16), others the value."""

    parsed: Any

    def __new__(cls, raw: str, parsed: Any) -> RawOverride:
        obj = super().__new__(cls, raw)
        obj.parsed = parsed
        return obj


def _takes_str(tp: Any) -> bool:
    return tp is str or str in typing.get_args(tp)


def one_of(*choices: str) -> Check:
    def check(x: Any) -> str | None:
        return None if x in choices else f"must be one of {', '.join(map(repr, choices))}"

    return check


# --------------------------------------------------------------------------- sections


# Settings that change how a run is carried out, never what it computes: two runs that differ
# only in these are the same run (a sweep reuses it).
RUNTIME_ONLY = ("progress", "log_every", "checkpoint_every", "keep_checkpoints", "torch_threads")


def run_differences(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    """The settings (dotted keys) in which two configs make different runs."""
    fa, fb = flatten(to_dict(a)), flatten(to_dict(b))
    keys = (set(fa) | set(fb)) - set(RUNTIME_ONLY) - {"name"}
    return {k: (fa.get(k), fb.get(k)) for k in sorted(keys) if fa.get(k) != fb.get(k)}


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'agent': {'lr': 1}} → {'agent.lr': 1}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# --------------------------------------------------------------------------- building


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(key: str, tp: Any, value: Any) -> Any:
    """Convert a YAML value to the annotated type ``tp`` or raise ConfigError naming ``key``."""
    if isinstance(value, RawOverride):
        value = str(value) if _takes_str(tp) else value.parsed
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(key, arg, value)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(f"{key}[{i}]", item, v) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads '1e-3' as a string
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(number):
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported type {tp}")  # pragma: no cover


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown(key: str, valid: Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown config key '{key}'{hint}")


def all_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of a config class (sections expanded)."""
    keys = []
    for name, tp in _hints(cls).items():
        if _is_dataclass_type(tp):
            keys += all_keys(tp, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def from_dict(
    cls: type[T], data: Mapping[str, Any], prefix: str = "", root: type | None = None
) -> T:
    """Build config ``cls`` from nested ``data``, checking keys, types and values."""
    root = root or cls
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = prefix + str(name)
        if name not in hints:
            raise _unknown(key, all_keys(root))
        tp = hints[name]
        if _is_dataclass_type(tp):
            kwargs[name] = from_dict(tp, value or {}, key + ".", root)
            continue
        v = _coerce(key, tp, value)
        check = fields[name].metadata.get("check")
        if check is not None:
            problem = check(v)
            if problem:
                raise ConfigError(f"{key}: {problem}, got {v!r}")
        kwargs[name] = v
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, help) for every field: the documentation the CLI prints."""
    rows = []
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if _is_dataclass_type(tp):
            rows += describe(tp, f"{prefix}{f.name}.")
        else:
            factory: Any = f.default_factory
            default = f.default if f.default is not dataclasses.MISSING else factory()
            rows.append((prefix + f.name, repr(default), f.metadata.get("help", "")))
    return rows
