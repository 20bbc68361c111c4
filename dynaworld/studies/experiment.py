"""An experiment file: suites of games, methods (settings of one base config) and seeds; each
(suite, game, method, seed) is a ``RunSpec``, one training run of a sweep.

A run's settings, later ones winning: the suite's config file, ``base``, the suite's
``overrides``, ``dyna_base`` and the suite's ``dyna_overrides`` (only for methods with a planning
model: the planning and model settings a DQN arm would ignore, and a new run refuses), the
method's own, the command line's."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynaworld.config import TrainConfig, from_dict, load_yaml, merge, parse_overrides
from dynaworld.errors import ConfigError
from dynaworld.shipped import resolve

SUMMARY_COLUMNS = (
    "eval_return_mean",
    "eval_return_std",
    "env_steps",
    "agent_updates",
    "model_transitions",
    "wall_time_s",
)


def pretrained_path(out: Path, suite: str, game: str, index: int | None = None) -> Path:
    """Where a game's pretrained model is made; with ``pretrain.models`` > 1, model ``index``'s
    (run seed s reads model s mod models)."""
    folder = out / "pretrain" / suite / _short(game)
    return (folder if index is None else folder / f"model{index}") / "model.pt"


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """{'planning.shape': '10x10'} → {'planning': {'shape': '10x10'}} (nested keys pass through)."""
    out: dict[str, Any] = {}
    for k, v in flat.items():
        node = out
        parts = str(k).split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def _short(game: str) -> str:
    return game.split("/")[-1].rsplit("-v", 1)[0]


# ------------------------------------------------------------------------------ running one


@dataclass
class RunSpec:
    suite: str
    game: str
    method: str
    seed: int
    cfg: TrainConfig
    label: str
    family: str
    run_dir: Path

    def row(self, summary: dict[str, Any]) -> dict[str, Any]:
        pc = self.cfg.planning
        return {
            "suite": self.suite,
            "game": self.game,
            "env_id": self.cfg.env.id,
            "method": self.method,
            "label": self.label,
            "family": self.family,
            "shape": pc.shape if pc.model not in ("none",) else "",
            "model": pc.model,
            "seed": self.seed,
            **{k: summary.get(k) for k in SUMMARY_COLUMNS},
            "run_dir": str(self.run_dir),
        }


@dataclass
class Experiment:
    name: str
    seeds: int
    suites: dict[str, dict[str, Any]]
    methods: dict[str, dict[str, Any]]
    base: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    pretrain: dict[str, Any] = field(
        default_factory=dict
    )  # how 'planning.model_path: auto' is made
    data: dict[str, Any] = field(default_factory=dict)  # the experiment file's contents
    # (A, B) method pairs the report compares (declared before the runs: the test family)
    comparisons: list[tuple[str, str]] = field(default_factory=list)
    # settings every method with a planning model gets (a DQN arm does not: they would do nothing)
    dyna_base: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> Experiment:
        """An experiment file, or a shipped experiment's name ('planning_shape')."""
        path = resolve(path, "experiment")
        return cls.from_data(load_yaml(path), path)

    @classmethod
    def from_data(cls, data: dict[str, Any], path: str | Path) -> Experiment:
        """An experiment from an experiment file's contents (``path``: where they came from)."""
        unknown = set(data) - {
            "name",
            "seeds",
            "suites",
            "methods",
            "base",
            "dyna_base",
            "description",
            "pretrain",
            "comparisons",
        }
        if unknown:
            raise ConfigError(f"{path}: unknown experiment keys {sorted(unknown)}")
        for key in ("suites", "methods"):
            if not isinstance(data.get(key), dict) or not data[key]:
                raise ConfigError(f"{path}: '{key}' must be a non-empty mapping")
        pairs = data.get("comparisons") or []
        bad = [p for p in pairs if not (isinstance(p, list) and len(p) == 2)]
        if bad:
            raise ConfigError(f"{path}: comparisons must be [A, B] method pairs, got {bad[0]!r}")
        for name in {m for p in pairs for m in p} - set(data["methods"]):
            close = difflib.get_close_matches(str(name), list(data["methods"]), 1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{path}: comparisons: unknown method '{name}'{hint}")
        return cls(
            data.get("name", Path(path).stem),
            int(data.get("seeds", 3)),
            data["suites"],
            data["methods"],
            data.get("base") or {},
            Path(path),
            data.get("pretrain") or {},
            data,
            [(str(a), str(b)) for a, b in pairs],
            data.get("dyna_base") or {},
        )

    def runs(
        self,
        out: Path,
        seeds: int | None = None,
        suites: Iterable[str] | None = None,
        overrides: Iterable[str] = (),
    ) -> list[RunSpec]:
        """Every run, fully configured and validated (errors name the suite, game and method)."""
        extra = parse_overrides(overrides)
        chosen = list(suites) if suites else list(self.suites)
        for s in chosen:
            if s not in self.suites:
                raise ConfigError(
                    f"unknown suite '{s}'; the experiment has {', '.join(self.suites)}"
                )
        specs = []
        for suite in chosen:
            sdef = self.suites[suite]
            base = merge(
                load_yaml(self._resolve(sdef["config"])) if "config" in sdef else {}, self.base
            )
            base = merge(base, sdef.get("overrides") or {})
            for game in sdef["games"]:
                for method in self.methods:
                    label, family, settings = self.method(method)
                    method_base = base
                    if merge(base, settings).get("planning", {}).get("model", "none") != "none":
                        dyna = merge(self.dyna_base, sdef.get("dyna_overrides") or {})
                        method_base = merge(base, dyna)  # a Dyna arm (it has a model)
                    for seed in range(seeds if seeds is not None else self.seeds):
                        data = merge(
                            merge(merge(method_base, settings), extra),
                            {"seed": seed, "env": {"id": game}, "progress": False},
                        )
                        data["name"] = f"{method}-{_short(game)}-s{seed}"
                        if data.get("planning", {}).get("model_path") == "auto":
                            n = int(self.pretrain.get("models", 1))
                            path = pretrained_path(out, suite, game, seed % n if n > 1 else None)
                            data["planning"]["model_path"] = str(path)
                        try:
                            cfg = from_dict(TrainConfig, data)
                            cfg.validate()
                        except ConfigError as e:
                            raise ConfigError(f"{suite}/{game}/{method}: {e}") from None
                        d = out / "runs" / suite / _short(game) / method / f"seed{seed}"
                        specs.append(
                            RunSpec(suite, _short(game), method, seed, cfg, label, family, d)
                        )
        return specs

    def method(self, name: str) -> tuple[str, str, dict[str, Any]]:
        """A method's label, family (its colour in charts) and nested config settings."""
        mdef = dict(self.methods[name])
        label, family = mdef.pop("label", name), mdef.pop("family", name)
        return str(label), str(family), nested(mdef)

    def _resolve(self, p: str) -> Path:
        """A suite's config: a path (as given, or beside the experiment's folder) or a name."""
        q = Path(p)
        if q.is_file() or self.path is None:
            return resolve(q, "config")
        beside = self.path.parent.parent / p
        return beside if beside.is_file() else resolve(q, "config")
