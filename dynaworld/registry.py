"""Planning models by name: ``planning.model`` is a registered name or 'package.module:Factory'.

Each entry names a factory, ``(ModelContext) -> model``, by its import path (loaded when a run is
built, as Gymnasium's ``entry_point``), and says what the model can do, so the rest of dynaworld
asks capabilities rather than names. A model is anything with the loop's ``Model`` contract
(``update(transition)``, ``step(query) -> Prediction``); a learned one also measures its error
(``PixelModel`` in ``dynaworld.models.base``). Adding a model kind: write its module with a
factory and add one line here. A user's own model needs no line: ``planning.model=mypkg.m:MyModel``
(a class or function taking a ``ModelContext``; its capabilities are its class attributes).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from dynaworld.errors import ConfigError
from dynaworld.imports import Roots, load_entry_point


@dataclass(frozen=True)
class ModelSpec:
    """A planning model's factory and capabilities."""

    factory: str | None  # 'module:callable' taking a ModelContext; None: no model is built
    help: str
    plan: str = "rollouts"  # 'rollouts' (n×k from the model), 'replay' (extra replay), 'none'
    observations: str = "any"  # 'vector': needs 1-D observations; 'any'
    simulator: bool = False  # steps the game's emulator (ALE/MinAtar; replay stores its states)
    learns: bool = False  # trains on real data: its k-step and termination errors are measured
    pretrained: bool = False  # loads planning.model_path and stays frozen
    extra: str | None = None  # the pip extra it needs


@dataclass
class ModelContext:
    """What a model factory gets: the run's config and what the run built before the model."""

    cfg: Any  # TrainConfig (its ``model`` section holds the model's settings)
    obs_shape: tuple[int, ...]
    n_actions: int
    buffer: Any  # the replay buffer of real transitions (the data a learned model trains on)
    device: Any
    seed: int


_M = "dynaworld.models"
MODELS: dict[str, ModelSpec] = {
    "none": ModelSpec(None, "DQN: no planning", plan="none"),
    "replay": ModelSpec(
        None,
        "the planning budget spent on extra replay updates ('DQN extra updates')",
        plan="replay",
    ),
    "perfect": ModelSpec(
        f"{_M}.perfect:from_context", "the emulator itself (ALE, MinAtar)", simulator=True
    ),
    "learned": ModelSpec(
        f"{_M}.pixel:from_context", "action-conditional pixel model trained online", learns=True
    ),
    "pretrained": ModelSpec(
        f"{_M}.pixel:pretrained",
        "pixel model trained offline, frozen (planning.model_path)",
        learns=True,
        pretrained=True,
    ),
    "linear": ModelSpec(
        f"{_M}.linear:from_context",
        "least squares on vector states",
        observations="vector",
        learns=True,
    ),
    "gp": ModelSpec(
        f"{_M}.gp:exact", "exact Gaussian process", observations="vector", learns=True, extra="gp"
    ),
    "sparse_gp": ModelSpec(
        f"{_M}.gp:sparse",
        "sparse GP (inducing points)",
        observations="vector",
        learns=True,
        extra="gp",
    ),
    "ensemble": ModelSpec(
        f"{_M}.ensemble:from_context",
        "probabilistic MLP ensemble",
        observations="vector",
        learns=True,
    ),
    "lstm": ModelSpec(
        f"{_M}.lstm:from_context",
        "recurrent, for partially observed tasks",
        observations="vector",
        learns=True,
    ),
}


def check_model_name(name: Any) -> str | None:
    """A config check: a registered name or a 'module:Factory' path."""
    if isinstance(name, str) and (name in MODELS or _is_path(name)):
        return None
    close = difflib.get_close_matches(str(name), list(MODELS), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"must be one of {', '.join(MODELS)} or 'package.module:Factory'{hint}"


def _is_path(name: str) -> bool:
    module, sep, attr = name.partition(":")
    return bool(sep and module and attr)


def model_spec(name: str, refuse_under: Roots = None) -> ModelSpec:
    """The spec of a registered name; for 'module:Factory', the factory's own capabilities
    (class attributes named as ModelSpec's fields), imported from an installed package only."""
    if name in MODELS:
        return MODELS[name]
    if not _is_path(name):
        raise ConfigError(f"planning.model: {check_model_name(name)}")
    try:
        factory = load_entry_point(name, "planning.model", refuse_under)
    except ImportError as e:
        raise ConfigError(str(e)) from None
    caps = {
        f.name: getattr(factory, f.name)
        for f in fields(ModelSpec)
        if f.name not in ("factory", "help") and hasattr(factory, f.name)
    }
    return ModelSpec(name, getattr(factory, "__doc__", None) or name, **caps)


def make_model(spec: ModelSpec, ctx: ModelContext) -> Any:
    """Build the model; a result without the loop's Model contract is refused by name."""
    assert spec.factory is not None, "no model to build"
    try:
        factory = load_entry_point(spec.factory, "planning.model")
    except ImportError as e:
        hint = f" (pip install 'dynaworld[{spec.extra}]')" if spec.extra else ""
        raise ConfigError(f"{e}{hint}") from None
    model = factory(ctx)
    missing = [m for m in ("update", "step") if not callable(getattr(model, m, None))]
    if missing:
        raise ConfigError(
            f"planning.model={spec.factory}: the model has no {' or '.join(missing)}; a model "
            "needs update(transition: Transition) -> None and step(query: Query) -> Prediction "
            "(dynaworld.loop.Model)"
        )
    if spec.learns:  # what training reads of a learning model (models.base.LearningModel)
        lacking = [a for a in LEARNING_ATTRS if not hasattr(model, a)]
        lacking += [m for m in ("k_step_error", "done_at") if not callable(getattr(model, m, None))]
        if lacking:
            raise ConfigError(
                f"planning.model={spec.factory} declares learns = True but has no "
                f"{', '.join(lacking)} (dynaworld.models.base.LearningModel lists them): add them, "
                "or declare learns = False"
            )
    shipped = {m.factory for m in MODELS.values()}
    return (
        model if spec.factory in shipped else CheckedModel(model, str(spec.factory), ctx.obs_shape)
    )


LEARNING_ATTRS = ("buffer", "holdout_every", "frozen", "updates", "last_loss")


class CheckedModel:
    """A user's model whose first prediction is checked against the Model contract (one row per
    query: reward (n,), next_obs (n, *obs_shape), done (n,), horizon (n,)): a wrong shape is a
    ConfigError naming the field, not a crash deep inside torch. Everything else is the model's."""

    def __init__(self, model: Any, name: str, obs_shape: tuple[int, ...]) -> None:
        self.model, self.name, self.obs_shape, self.checked = model, name, obs_shape, False

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.__dict__["model"], attr)

    def step(self, q: Any) -> Any:
        pred = self.model.step(q)
        if not self.checked:
            n = len(q.action)
            want = {"reward": (n,), "next_obs": (n, *self.obs_shape), "done": (n,), "horizon": (n,)}
            for field, shape in want.items():
                got = getattr(pred, field, None)
                if got is None or tuple(np.shape(got)) != shape:
                    raise ConfigError(
                        f"planning.model={self.name}: step() returned {field} of shape "
                        f"{None if got is None else tuple(np.shape(got))} for {n} queries; the "
                        f"Model contract wants {shape} (dynaworld.types.Prediction)"
                    )
            self.checked = True
        return pred
