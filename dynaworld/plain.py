"""Plain data: the only thing dynaworld reads back from a run directory, dataset or sweep folder.

``encode`` turns a value into a tree of ``None``/bool/int/float/str/bytes, lists, str-keyed dicts
and tensors; that tree is what ``torch.save`` writes and ``torch.load(weights_only=True)`` reads
back, so loading a file can build nothing but those. ``decode`` rebuilds a fixed set of types from
tagged dicts: numpy arrays and scalars (never of object dtype), tuples, deques, dicts with other
keys, numpy RNGs (of a named, known bit generator) and ALE emulator states. Nothing in a file
names a class or a function, so nothing in a file can run code.

``capture``/``restore`` apply this to an object graph (an environment and its wrappers, pycma's
state): ``capture`` records each attribute it can encode, by path; ``restore`` writes them back
into a freshly built graph of the same shape (rebuilt from the run's config, never from the
file). An object can take over with the explicit state protocol ``clone_state() -> plain data``
and ``restore_state(state)`` (dynaworld's Atari env does: the emulator is C++).
"""

from __future__ import annotations

import collections
import enum
import types
from typing import Any

import numpy as np
import torch

from dynaworld.errors import CheckpointError

_SCALARS = (type(None), bool, int, float, str, bytes)
_BIT_GENERATORS = {
    c.__name__: c for c in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                            np.random.Philox, np.random.SFC64)
}  # fmt: skip
_TAG = "__plain__"


class Unencodable(TypeError):
    """A value that is not plain data (a handle, a function, an object)."""


def _tag(kind: str, **fields: Any) -> dict[str, Any]:
    return {_TAG: kind, **fields}


def _bitgen_state(bg: np.random.BitGenerator) -> dict[str, Any]:
    return encode(bg.state)


def encode(v: Any) -> Any:
    """``v`` as plain data (raises ``Unencodable`` naming the first value that is not)."""
    if isinstance(v, np.generic):  # before the scalars: np.float64 is a float
        return _tag("npscalar", dtype=v.dtype.str, data=v.tobytes())
    t = type(v)  # exact types: a list or dict subclass is an object (its attributes are walked)
    if t in _SCALARS or isinstance(v, torch.Tensor):
        return v
    if isinstance(v, np.ndarray):
        if v.dtype.hasobject:
            raise Unencodable("numpy array of dtype object")
        return _tag("ndarray", dtype=v.dtype.str, shape=list(v.shape), data=v.tobytes())
    if t is list:
        return [encode(x) for x in v]
    if t is tuple:
        return _tag("tuple", items=[encode(x) for x in v])
    if t is collections.deque:
        return _tag("deque", items=[encode(x) for x in v], maxlen=v.maxlen)
    if t is dict:
        if all(isinstance(k, str) for k in v) and _TAG not in v:
            return {k: encode(x) for k, x in v.items()}
        return _tag("dict", items=[[encode(k), encode(x)] for k, x in v.items()])
    if isinstance(v, np.random.Generator):
        return _tag("generator", state=_bitgen_state(v.bit_generator))
    if isinstance(v, np.random.RandomState):
        return _tag("randomstate", state=_bitgen_state(v._bit_generator))
    if isinstance(v, np.random.BitGenerator):
        return _tag("bitgenerator", state=_bitgen_state(v))
    if type(v).__name__ == "ALEState" and type(v).__module__.startswith("ale_py"):
        return _tag("ale_state", data=v.serialize())
    raise Unencodable(f"{type(v).__module__}.{type(v).__qualname__}")


def _bit_generator(state: Any) -> np.random.BitGenerator:
    s = decode(state)
    name = s.get("bit_generator") if isinstance(s, dict) else None
    if name not in _BIT_GENERATORS:
        raise CheckpointError(f"unknown bit generator {name!r} in an RNG state")
    bg = _BIT_GENERATORS[name]()
    bg.state = s
    return bg


def _dtype(s: Any) -> np.dtype:
    dt = np.dtype(str(s))
    if dt.hasobject:
        raise CheckpointError("an array of dtype object in a file: refused (it could run code)")
    return dt


def decode(v: Any) -> Any:
    """The value ``encode`` made ``v`` from; builds only the types this module lists."""
    if isinstance(v, list):
        return [decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    kind = v.get(_TAG)
    if kind is None:
        return {k: decode(x) for k, x in v.items()}
    if kind == "ndarray":
        dt = _dtype(v["dtype"])
        return np.frombuffer(v["data"], dt).reshape([int(n) for n in v["shape"]]).copy()
    if kind == "npscalar":
        return np.frombuffer(v["data"], _dtype(v["dtype"]))[0]
    if kind == "tuple":
        return tuple(decode(x) for x in v["items"])
    if kind == "deque":
        return collections.deque((decode(x) for x in v["items"]), maxlen=v["maxlen"])
    if kind == "dict":
        return {decode(k): decode(x) for k, x in v["items"]}
    if kind == "generator":
        return np.random.Generator(_bit_generator(v["state"]))
    if kind == "randomstate":
        return np.random.RandomState(_bit_generator(v["state"]))
    if kind == "bitgenerator":
        return _bit_generator(v["state"])
    if kind == "ale_state":
        import ale_py

        return ale_py.ALEState(bytes(v["data"]))
    raise CheckpointError(f"unknown plain-data tag {kind!r}")


# ------------------------------------------------------------------ object graphs

_NOT_STATE = (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
              types.ModuleType, str, enum.Enum)  # fmt: skip


def capture(
    root: Any, *, skip: tuple[str, ...] = (), config_types: tuple[type, ...] = ()
) -> tuple[dict[str, Any], list[str]]:
    """The state of ``root``'s object graph as plain data, and the paths it could not encode.

    Strings, classes, functions (and other callables without a ``__dict__``) and instances of ``config_types`` are configuration (the fresh
    graph has them) and are neither recorded nor reported; attributes named in ``skip`` neither.
    """
    seen: dict[int, str] = {}
    missed: list[str] = []

    def walk(obj: Any, path: str) -> dict[str, Any]:
        if hasattr(obj, "clone_state") and hasattr(obj, "restore_state"):
            return _tag("protocol", state=encode(obj.clone_state()))
        attrs: dict[str, Any] = {}
        for name, v in vars(obj).items():
            p = f"{path}.{name}"
            if name in skip or name.startswith("__") or isinstance(v, _NOT_STATE + config_types):
                continue
            if callable(v) and not hasattr(v, "__dict__"):  # a C function or dispatcher
                continue
            if not isinstance(v, (bool, int, float, type(None))):
                if id(v) in seen:
                    attrs[name] = _tag("ref", path=seen[id(v)])
                    continue
                seen[id(v)] = p
            try:
                attrs[name] = encode(v)
            except Unencodable as e:
                if not hasattr(v, "__dict__"):
                    missed.append(f"{p} ({e})")
                elif (sub := walk(v, p)).get("attrs", True):  # an object with no state: nothing
                    attrs[name] = sub
        return _tag("object", attrs=attrs)

    seen[id(root)] = type(root).__name__
    return walk(root, type(root).__name__), missed


def restore(root: Any, state: dict[str, Any]) -> None:
    """Write ``capture``'s state back into ``root``, a graph built the same way."""
    done: dict[str, Any] = {}
    refs: list[tuple[Any, str, str]] = []

    def walk(obj: Any, node: Any, path: str) -> None:
        kind = node.get(_TAG) if isinstance(node, dict) else None
        if kind == "protocol":
            obj.restore_state(decode(node["state"]))
            return
        if kind != "object":
            raise CheckpointError(f"{path}: expected an object's state, found {kind!r}")
        for name, v in node["attrs"].items():
            p = f"{path}.{name}"
            if not isinstance(name, str) or name.startswith("__"):
                raise CheckpointError(f"{p}: not an attribute a state may set")
            sub = v.get(_TAG) if isinstance(v, dict) else None
            if sub == "ref":
                refs.append((obj, name, v["path"]))
            elif sub in ("object", "protocol"):
                target = getattr(obj, name, None)
                if not hasattr(target, "__dict__") or isinstance(target, _NOT_STATE):
                    raise CheckpointError(
                        f"{p}: the checkpoint holds an object here, this environment does not"
                    )
                done[p] = target
                walk(target, v, p)
            else:
                done[p] = decode(v)
                setattr(obj, name, done[p])

    done[type(root).__name__] = root
    walk(root, state, type(root).__name__)
    for obj, name, path in refs:
        if path not in done:
            raise CheckpointError(f"a reference to {path}, which the checkpoint does not hold")
        setattr(obj, name, done[path])
