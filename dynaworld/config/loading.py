"""Configs from YAML files and ``key=value`` overrides (dotted keys: ``agent.lr=1e-4``)."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dynaworld.config.schema import RawOverride, from_dict, to_dict
from dynaworld.config.train import TrainConfig
from dynaworld.errors import ConfigError
from dynaworld.files import atomic_write
from dynaworld.shipped import resolve

T = TypeVar("T")


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``["agent.lr=1e-4", "total_steps=5000"]`` → nested dict with YAML-typed values."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override '{pair}' is not of the form key=value")
        key, raw = pair.split("=", 1)
        if not key:
            raise ConfigError(f"override '{pair}' has an empty key")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as e:
            raise ConfigError(f"{key}: cannot parse value {raw!r}: {e}") from None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if str(value) != raw.strip():  # 0x10, 1_000, 0.50: keep the text for str keys
                value = RawOverride(raw.strip(), value)
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override '{pair}' conflicts with another override")
        node[parts[-1]] = value
    return out


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


MAX_YAML_BYTES, MAX_YAML_DEPTH = 1 << 20, 16  # configs and experiment files are small and flat


class _PlainLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases (a 0.5 KB 'billion laughs' file expands to gigabytes
    when printed) and with a bounded nesting depth."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise ConfigError(f"line {mark.line + 1}: YAML aliases (*name) are not accepted here")
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise ConfigError(f"nested deeper than {MAX_YAML_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping read safely: plain data, at most 1 MiB, UTF-8, no aliases, not deeply
    nested; every failure a ConfigError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    if p.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(
            f"{p}: {p.stat().st_size:,} bytes; a config holds at most {MAX_YAML_BYTES:,}"
        )
    try:
        data = yaml.load(p.read_bytes().decode("utf-8"), Loader=_PlainLoader) or {}  # noqa: S506
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {str(e)[:500]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of config keys")
    return data


@typing.overload
def load_config(path: str | Path | None, overrides: Iterable[str] = ()) -> TrainConfig: ...
@typing.overload
def load_config(path: str | Path | None, overrides: Iterable[str], cls: type[T]) -> T: ...
def load_config(
    path: str | Path | None, overrides: Iterable[str] = (), cls: type = TrainConfig
) -> Any:
    """YAML file or a shipped config's name (optional) + ``key=value`` overrides → validated
    config."""
    data = load_yaml(resolve(path, "config")) if path is not None else {}
    cfg: Any = from_dict(cls, merge(data, parse_overrides(overrides)))
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def save_config(cfg: Any, path: str | Path) -> None:
    """Write ``cfg`` as YAML, atomically (never a half-written config.yaml)."""
    with atomic_write(path, "w") as f:
        f.write(yaml.safe_dump(to_dict(cfg), sort_keys=False))
