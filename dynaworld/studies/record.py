"""A sweep folder's record: its spec, which runs are the same run, and results.csv.

``OUT/experiment.yaml`` holds the spec (the experiment file's contents and the overrides that
change runs); another spec is refused unless ``--add-spec`` records it beside (``experiment.N.yaml``).
Whatever the spec, a run's own config.yaml decides whether it is the run asked for, and under which
spec it appears in ``results.csv``.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynaworld.config import (
    RUNTIME_ONLY,
    TrainConfig,
    load_config,
    load_yaml,
    parse_overrides,
    run_differences,
)
from dynaworld.errors import ConfigError, DynaworldError
from dynaworld.files import atomic_write, read_json
from dynaworld.studies.experiment import SUMMARY_COLUMNS, Experiment, RunSpec

RESULT_COLUMNS = (
    *("suite", "game", "env_id", "method", "label", "family", "shape", "model", "seed"),
    *SUMMARY_COLUMNS,
    "run_dir",
)


def check_same_run(d: Path, cfg: TrainConfig) -> None:
    """Raise unless the run in ``d`` (if any) is the run ``cfg`` makes: its own config decides."""
    if not (d / "config.yaml").is_file():
        return
    diff = run_differences(load_config(d / "config.yaml"), cfg)
    if diff:
        k, (made, asked) = next(iter(diff.items()))
        more = f" (and {len(diff) - 1} more settings)" if len(diff) > 1 else ""
        raise ConfigError(
            f"{d} was made with {k}={made!r}, this sweep asks for {k}={asked!r}{more}: "
            "use another --out for other settings"
        )


SPEC_FILE = "experiment.yaml"


def sweep_spec(exp: Experiment, overrides: Iterable[str]) -> dict[str, Any]:
    """What decides a sweep folder's runs: the experiment file's contents and the overrides
    that change what runs compute (``RUNTIME_ONLY`` ones, like torch_threads, do not)."""
    kept = [o for o in overrides if o.split("=", 1)[0].strip() not in RUNTIME_ONLY]
    source = str(exp.path) if exp.path else f"(built in: dynaworld {exp.name})"
    return {"experiment_file": source, "experiment": exp.data, "overrides": kept}


def check_spec(out: Path, spec: dict[str, Any], add_spec: bool) -> Path | None:
    """The spec file to write (None: ``out`` already records this spec); raises when ``out``
    records another one and ``add_spec`` is not set. Writes nothing."""
    records = sorted(out.glob("experiment*.yaml"))
    recorded = [load_yaml(p) for p in records]

    def same(r: dict[str, Any]) -> bool:
        return (r.get("experiment"), _parsed(r.get("overrides"))) == (
            spec["experiment"],
            _parsed(spec["overrides"]),
        )

    if any(same(r) for r in recorded):
        return None
    if not records:
        return out / SPEC_FILE
    legacy = [p for p, r in zip(records, recorded, strict=True) if "experiment_file" not in r]
    if legacy and len(records) == 1:  # dynaworld <= 0.1 recorded the last invocation only
        return out / SPEC_FILE
    if not add_spec:
        r = recorded[-1]
        what = "experiment file" if r.get("experiment") != spec["experiment"] else "overrides"
        raise ConfigError(
            f"{out} holds runs of another spec ({records[-1].name}: other {what}, "
            f"{r.get('overrides')} vs {spec['overrides']}): use another --out, or --add-spec to "
            "record this spec beside it (each run's own config still decides which runs match)"
        )
    return out / f"experiment.{len(records) + 1}.yaml"


def _parsed(overrides: Any) -> dict[str, Any]:
    return parse_overrides(overrides or [])


def select(
    exp: Experiment,
    specs: list[RunSpec],
    games: Iterable[str] | None,
    methods: Iterable[str] | None,
) -> list[RunSpec]:
    """The runs of the named games and methods; a name that selects nothing is an error."""
    for flag, names, valid in (
        ("--game", games, sorted({s.game for s in specs})),
        ("--method", methods, list(exp.methods)),
    ):
        for n in names or ():
            if n not in valid:
                close = difflib.get_close_matches(n, valid, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise ConfigError(
                    f"{flag} {n}: not in this sweep (valid: {', '.join(valid)}){hint}"
                )
    chosen = [
        s for s in specs if (not games or s.game in games) and (not methods or s.method in methods)
    ]
    if not chosen:
        raise ConfigError("the filters select no run of this experiment")
    return chosen


def recorded_runs(exp: Experiment, out: Path, seeds: int, spec: dict[str, Any]) -> list[RunSpec]:
    """The runs of every spec ``out`` records (and ``spec``), in that order."""
    return [
        s
        for r in [*(load_yaml(p) for p in sorted(out.glob("experiment*.yaml"))), spec]
        if r.get("experiment") == exp.data
        for s in exp.runs(out, seeds, None, r.get("overrides") or [])
    ]


def write_results(specs: list[RunSpec], out: Path) -> Path:
    """results.csv: a row per finished run, under the first of ``specs`` (the runs of every
    recorded spec) whose config is the run's own config."""
    rows, done = [], set()
    for s in specs:
        p = s.run_dir / "summary.json"
        if s.run_dir in done or not p.exists():
            continue
        if not run_differences(load_config(s.run_dir / "config.yaml"), s.cfg):
            rows.append(s.row(read_json(p, "run summary")))
            done.add(s.run_dir)
    path = out / "results.csv"
    with atomic_write(path, "w", newline="") as f:
        w = csv.DictWriter(f, RESULT_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")  # suite, game, method: file names too
LABEL = re.compile(r"[\w .,:;+×()'/-]{1,80}")  # labels, families: table cells and legends


def check_names(row: dict[str, Any], where: str) -> None:
    """Refuse a row whose names could become a path (``/abs``, ``..``) or Markdown/code lines
    (newlines, ``|``, ``<``): a shared sweep folder's results.csv is read, never trusted."""
    for key, pattern in (("suite", NAME), ("game", NAME), ("method", NAME), ("label", LABEL),
                         ("family", LABEL), ("shape", LABEL), ("model", LABEL)):  # fmt: skip
        value = str(row.get(key) or "")
        if (value or key in ("suite", "game", "method")) and not pattern.fullmatch(value):
            raise DynaworldError(
                f"{where}: {key} {value[:60]!r} is not a name dynaworld writes (letters, digits "
                "and . _ + - for suites, games and methods; no line breaks, '|' or '<' anywhere)"
            )
