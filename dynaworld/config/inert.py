"""Settings that would silently do nothing in a run: a new run with one is refused, naming the
setting and the key that makes it inert (runs already on disk still load, resume and evaluate).

The inert combinations (each changed from its default):

* ``planning.*`` with ``planning.model=none``: plain DQN plans nothing.
* ``model.*`` with ``planning.model=none``: no model is built.
* ``planning.model_path`` with a built-in model that is not pretrained: nothing loads it.
* ``planning.recent`` with ``planning.start_states=uniform``: only 'recent' reads it.
* ``planning.updates_per_transition``, ``imagined_capacity``, ``real_fraction`` with
  ``planning.update_rule=rollout_step``: only the imagined buffer reads them.

``model.*`` with a model that neither learns nor loads (``perfect``, ``replay``) is a warning,
not a refusal: an experiment's Dyna arms share one model block (``warnings``).
"""

from __future__ import annotations

from typing import Any

from dynaworld.config.schema import to_dict
from dynaworld.errors import ConfigError
from dynaworld.registry import MODELS

IMAGINED_BUFFER_ONLY = ("updates_per_transition", "imagined_capacity", "real_fraction")


def changed(section: Any) -> list[str]:
    """The fields of a config section that differ from their defaults."""
    default = to_dict(type(section)())
    return [k for k, v in to_dict(section).items() if v != default[k]]


def inert_settings(cfg: Any) -> list[str]:
    """One sentence per inert setting of a ``TrainConfig``, naming both keys."""
    pc, out = cfg.planning, []
    planning = [k for k in changed(pc) if k != "model"]
    if pc.model == "none":
        out += [f"planning.{k}={getattr(pc, k)} does nothing with planning.model=none" for k in planning]  # fmt: skip
        out += [f"model.{k}={getattr(cfg.model, k)} does nothing with planning.model=none" for k in changed(cfg.model)]  # fmt: skip
        return out
    spec = MODELS.get(pc.model)  # a user's model may read any setting
    if pc.model_path is not None and spec is not None and not spec.pretrained:
        out.append(f"planning.model_path does nothing with planning.model={pc.model} (only a pretrained model loads it)")  # fmt: skip
    if "recent" in planning and pc.start_states == "uniform":
        out.append(f"planning.recent={pc.recent} does nothing with planning.start_states=uniform")
    if pc.update_rule == "rollout_step":
        out += [
            f"planning.{k}={getattr(pc, k)} does nothing with planning.update_rule=rollout_step"
            for k in IMAGINED_BUFFER_ONLY
            if k in planning
        ]
    return out


def model_warnings(cfg: Any) -> list[str]:
    """``model.*`` settings a built-in model that neither learns nor loads ignores."""
    spec = MODELS.get(cfg.planning.model)
    if spec is None or spec.plan == "none" or spec.learns or spec.pretrained:
        return []
    keys = ", ".join(f"model.{k}" for k in changed(cfg.model))
    return [f"{keys} do nothing with planning.model={cfg.planning.model}"] if keys else []


def refuse_inert(cfg: Any) -> None:
    """Raise ``ConfigError`` listing every inert setting of a new run (none: return)."""
    found = inert_settings(cfg)
    if found:
        raise ConfigError(
            "; ".join(found) + " (remove the setting, or set the key that uses it; "
            "docs: dynaworld/config/inert.py)"
        )


__all__ = ["changed", "inert_settings", "model_warnings", "refuse_inert"]
