"""Typed run configuration: dataclasses whose fields carry their own documentation.

A config is built from a YAML file plus ``key=value`` overrides (dotted keys for sections,
``agent.lr=1e-4``). Every value is type-checked and range-checked before any work starts;
an unknown key fails with the closest valid key. ``schema``: the machinery; ``train``: the
training config; ``files``: YAML and overrides. World Models' config: ``worldmodels.config``.
"""

from dynaworld.config.inert import inert_settings, refuse_inert
from dynaworld.config.loading import load_config, load_yaml, merge, parse_overrides, save_config
from dynaworld.config.schema import (
    RUNTIME_ONLY,
    all_keys,
    describe,
    doc,
    flatten,
    from_dict,
    non_negative,
    one_of,
    positive,
    positive_items,
    run_differences,
    to_dict,
    unit_interval,
)
from dynaworld.config.train import (
    RESUME_SAFE,
    AgentConfig,
    EnvConfig,
    ModelConfig,
    PlanningConfig,
    ReplayConfig,
    TrainConfig,
    parse_shape,
)

__all__ = [
    "RESUME_SAFE", "RUNTIME_ONLY", "AgentConfig", "EnvConfig", "ModelConfig", "PlanningConfig",
    "ReplayConfig", "TrainConfig", "all_keys", "describe", "doc", "flatten", "from_dict", "inert_settings",
    "load_config", "load_yaml", "merge", "non_negative", "one_of", "parse_overrides",
    "parse_shape", "positive", "positive_items", "refuse_inert", "run_differences", "save_config", "to_dict",
    "unit_interval",
]  # fmt: skip
