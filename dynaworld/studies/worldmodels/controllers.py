"""A World Models experiment: one V and M, several controllers, one table.

An experiment file names a base config and a list of controllers (each a set of overrides of the
``controller`` / ``es`` sections), e.g. the CarRacing ablations (full / V only / V + hidden) or the
Doom temperature sweep (C trained in the dream at each tau). V and M are trained once; every
controller is trained and evaluated on real episodes; the random policy is evaluated on the same
episodes; ``report.md`` gets the table::

    name: doom_temperature
    config: configs/worldmodels_doom_small.yaml
    controllers:
      - {es.temperature: 0.10}
      - {es.temperature: 1.15}

With ``iteration=K`` (``--iteration K``) the controllers are trained in the dream of M_K, the
model of an iterative run's iteration K (``RUN_DIR/iter<K>/``): the temperature table at the final
model. A controller whose settings C_(K-1) already has continues from it, as the iterative
procedure does; any other starts from zero weights, as at K = 1. The table is then
``RUN_DIR/report_iter<K>.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dynaworld.config import from_dict, load_yaml, merge, parse_overrides, to_dict
from dynaworld.errors import ConfigError
from dynaworld.shipped import resolve
from dynaworld.studies.worldmodels.table import report
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.pipeline import Pipeline, needs_m
from dynaworld.worldmodels.run import WorldModelsRun

PER_CONTROLLER = ("controller", "es")


def _resolve(path: Path, p: str) -> Path:
    """The experiment's base config: a path (as given, or beside the experiment) or a name."""
    for cand in (Path(p), path.parent / p, path.parent.parent / p):
        if cand.is_file():
            return cand
    return resolve(p, "config")


def controller_configs(
    path: str | Path, overrides: Iterable[str] = ()
) -> tuple[WorldModelsConfig, list[WorldModelsConfig]]:
    """The base config and one config per controller of the experiment file."""
    p = resolve(path, "experiment")
    exp = load_yaml(p)
    unknown = set(exp) - {"name", "config", "controllers", "description"}
    if unknown:
        raise ConfigError(f"{p}: unknown experiment keys {sorted(unknown)}")
    if not isinstance(exp.get("controllers"), list) or not exp["controllers"]:
        raise ConfigError(f"{p}: 'controllers' must be a non-empty list of override mappings")
    if "config" not in exp:
        raise ConfigError(f"{p}: 'config' (the base config's path or shipped name) is missing")
    data = merge(load_yaml(_resolve(p, exp["config"])), parse_overrides(overrides))
    base = from_dict(WorldModelsConfig, data)
    out = []
    for i, c in enumerate(exp["controllers"]):
        flat = parse_overrides(f"{k}={v}" for k, v in (c or {}).items())
        if set(flat) - set(PER_CONTROLLER):
            raise ConfigError(f"{p}: controllers[{i}] may only set controller.* and es.* keys")
        cfg = from_dict(WorldModelsConfig, merge(to_dict(base), flat))
        cfg.validate()
        out.append(cfg)
    return base, out


def shared_stages(paths: WorldModelsRun, controllers: list[WorldModelsConfig]) -> list[str]:
    """Iteration 1's stages the controllers need: V, and M for the full model or a dream. The
    data and their encoding only to train V or M, or for a dream's starting states: a run kept
    without its rollouts (V and M are enough to train C on E) is not collected again."""
    dream = any(c.es.where == "dream" for c in controllers)
    m = any(needs_m(c) for c in controllers)
    trained = (paths.dir / "vae.pt").exists() and (paths.m_path(1).exists() or not m)
    data = ["collect", "train_v", "encode"] if dream or not trained else ["train_v"]
    return data + (["train_m"] if m else [])


def run_experiment(
    path: str | Path,
    run_dir: str | Path,
    overrides: Iterable[str] = (),
    ray_address: str | None = None,
    progress: bool = True,
    iteration: int | None = None,
) -> dict[str, Any]:
    base, controllers = controller_configs(path, overrides)
    k = iteration or 1
    for cfg in controllers:  # a C folder these settings cannot continue: refused before any work
        WorldModelsRun(cfg, run_dir, record=False).check_c(k)
    # k = 1 makes the run's data, V and M with the base settings, so they become its config.yaml;
    # at k > 1 the run is only read, and each controller's settings are recorded in its C folder
    shared_pipe = Pipeline(base, run_dir, ray_address, progress, record=k == 1)
    paths = shared_pipe.paths
    if k == 1:
        shared_pipe.run(shared_stages(paths, controllers))
    elif not paths.m_path(k).exists():
        raise ConfigError(
            f"{paths.m_path(k)} does not exist: iteration {k}'s M is trained by "
            f"'dynaworld worldmodels run ... iterate.iterations={k} --run-dir {run_dir}'"
        )
    results = {}
    for cfg in controllers:
        pipe = Pipeline(cfg, run_dir, ray_address, progress, record=False)
        c_dir = pipe.paths.c_dir(k)
        if not (c_dir / "eval.json").exists():
            pipe.iterate(k, k, plan_only=True)  # the train-c stage at iteration k
            pipe.evaluate(k=k)
        results[c_dir.name] = str(c_dir / "eval.json")
    if not (Path(run_dir) / "random_eval.json").exists():
        shared_pipe.evaluate_random()
    out = None if k == 1 else Path(run_dir) / f"report_iter{k}.md"
    return {"evals": results, "report": str(report([paths.iteration_dir(k)], out))}
