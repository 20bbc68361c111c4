"""A run directory's life: a new run's directory, and resumes that never rewrite how it was made.

``train --resume RUN key=value`` accepts only ``config.RESUME_SAFE`` settings, checked against the
run before anything is written; ``train`` then records each resume in ``history.jsonl``. Loading a
run's config imports only installed env modules, never a file inside the run directory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dynaworld import checkpoint as ckpt
from dynaworld import rundir
from dynaworld.config import RESUME_SAFE, TrainConfig, flatten, load_config, save_config, to_dict
from dynaworld.envs import import_env_modules
from dynaworld.errors import ConfigError, DynaworldError
from dynaworld.files import read_json
from dynaworld.registry import model_spec


def default_run_dir(cfg: TrainConfig) -> Path:
    return Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def check_path(d: Path) -> None:
    """Raise unless ``d`` can be made here: names the file system accepts, and a writable
    folder above it. Writes nothing."""
    if len(str(d).encode()) > 3000 or any(len(p.encode()) > 200 for p in d.parts):
        raise DynaworldError(
            f"run directory {str(d)[:80]}...: too long a path (at most 200 bytes a name, 3,000 in all)"
        )
    rundir.check_kind(d, "train", "dynaworld train")  # a file there is named as such
    above = next((p for p in (d, *d.absolute().parents) if p.exists()), None)
    if above is not None and (not above.is_dir() or not os.access(above, os.W_OK | os.X_OK)):
        raise DynaworldError(f"run directory {d}: {above} is not a folder this user can write")


def check_new_run_dir(d: Path) -> None:
    """Raise unless ``d`` can hold a new run; writes nothing."""
    check_path(d)
    ignored = (rundir.KIND_FILE, rundir.LOCK_FILE, "log.txt")
    if d.is_dir() and any(p.name not in ignored for p in d.iterdir()):
        raise DynaworldError(
            f"run directory {d} already holds a run: resume it with 'dynaworld train --resume {d}' "
            "or choose another --run-dir"
        )


def prepare_run_dir(cfg: TrainConfig, d: Path) -> Path:
    rundir.claim(d, "train", "dynaworld train")
    save_config(cfg, d / "config.yaml")
    rundir.record(d, "created", config="config.yaml")
    return d


def reached_step(d: Path) -> int:
    """The step a run directory's newest checkpoint (or finished summary) reached."""
    latest = ckpt.latest_checkpoint(d)
    step = int(latest.parent.name[len(ckpt.PREFIX) :]) if latest is not None else 0
    if (d / "summary.json").is_file():
        step = max(step, int(read_json(d / "summary.json", "run summary").get("env_steps", 0)))
    return step


def finished_summary(d: Path) -> dict[str, Any]:
    print(
        f"dynaworld: {d} already finished at step {reached_step(d):,}; nothing was changed "
        "(extend it with a larger total_steps=N)",
        flush=True,
    )
    return read_json(d / "summary.json", "run summary")


def resume_changes(d: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """The overrides ``cfg`` makes to the run in ``d`` (checked: only ``RESUME_SAFE`` keys, and
    ``total_steps`` not below the step reached), or None when the run is finished and ``cfg``
    does not extend it. Writes nothing."""
    old = flatten(to_dict(read_run_config(d)))
    changes = {k: v for k, v in flatten(to_dict(cfg)).items() if old.get(k) != v}
    refused = [k for k in changes if k not in RESUME_SAFE]
    if refused:
        k = refused[0]
        raise ConfigError(
            f"{k}: a resumed run keeps the settings it was trained with ({k}={old.get(k)!r}); "
            f"only {', '.join(RESUME_SAFE)} may change on --resume. Start a new run for "
            f"{k}={changes[k]!r}"
        )
    step = reached_step(d)
    if cfg.total_steps < step:
        raise ConfigError(
            f"total_steps={cfg.total_steps} is below the step this run reached ({step:,})"
        )
    if (d / "summary.json").is_file() and cfg.total_steps <= step:
        return None
    return changes


def read_run_config(run_dir: str | Path) -> TrainConfig:
    """The config an agent run was made with (its config.yaml, unchanged)."""
    d = Path(run_dir)
    rundir.check_kind(d, "train", "dynaworld train --resume / eval / collect / model-error")
    if not (d / "config.yaml").is_file():
        raise DynaworldError(f"{d} is not a run directory (no config.yaml)")
    cfg = load_config(d / "config.yaml")
    modules = [*cfg.env.imports, *([cfg.env.id.split(":")[0]] if ":" in cfg.env.id else [])]
    shared = rundir.loaded_folders(d)  # never code from the folder itself or a sweep holding it
    import_env_modules(modules, refuse_under=shared)
    model_spec(cfg.planning.model, refuse_under=shared)  # a user's model class, likewise
    return cfg


def resume_config(run_dir: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """The run's config with ``overrides`` applied (checked by ``train(..., resume=True)``)."""
    d = Path(run_dir)
    rundir.check_no_links(d)  # a resume writes here: a shared folder's links are refused first
    read_run_config(d)
    return load_config(d / "config.yaml", overrides or [])
