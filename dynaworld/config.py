"""Typed run configuration: dataclasses whose fields carry their own documentation.

A config is built from a YAML file plus ``key=value`` overrides (dotted keys for sections,
``agent.lr=1e-4``). Every value is type-checked and range-checked before any work starts;
an unknown key fails with the closest valid key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dynaworld.device import device_name
from dynaworld.errors import ConfigError

T = TypeVar("T")
Check = Callable[[Any], str | None]
# planning.model names of the models on vector states (dynaworld/models/vector.py)
VECTOR_MODELS = ("linear", "gp", "sparse_gp", "ensemble", "lstm")


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


@dataclass
class EnvConfig:
    """Environment E: any Gymnasium id; Atari (``ALE/...``) and MinAtar get their standard wrappers."""

    id: str = doc(
        "CartPole-v1", "Gymnasium id, e.g. 'CartPole-v1', 'MinAtar/Breakout-v1', 'ALE/Pong-v5'."
    )
    sticky_actions: float | None = doc(
        None,
        "Probability of repeating the previous action (ALE / MinAtar). None keeps the game's default "
        "(ALE v5: 0.25, MinAtar: 0.1); the Atari-100k protocol uses 0.0.",
        unit_interval,
    )
    max_episode_steps: int | None = doc(
        None,
        "Truncate episodes after this many agent steps (Atari default 27,000 = 108k frames).",
        positive,
    )
    frame_skip: int = doc(
        4, "Atari: emulator frames per agent step (max-pooled over the last two).", positive
    )
    frame_stack: int = doc(4, "Atari: frames stacked into one observation.", positive)
    screen_size: int = doc(
        84, "Atari: observations are screen_size x screen_size grayscale.", positive
    )
    noop_max: int = doc(
        30, "Atari: up to this many no-op frames at the start of an episode.", non_negative
    )
    clip_rewards: bool = doc(
        True, "Atari: train on sign(reward); evaluation always reports raw score."
    )
    terminal_on_life_loss: bool = doc(
        True, "Atari: a lost life ends the episode *for learning only* (the game continues)."
    )
    full_action_space: bool = doc(
        False, "Atari: use all 18 actions instead of the game's minimal set."
    )
    hide_velocities: bool = doc(
        False,
        "CartPole / Acrobot / MountainCar: drop the velocities from the observation (a partially "
        "observed variant; the state must be inferred from history).",
    )
    imports: list[str] = doc(
        [],
        "Python modules imported before the env is made: the packages that register your own env "
        "ids (also written 'env.id=mypkg.envs:MyEnv-v0'). Installed packages only: a module that "
        "is a file inside the run directory being loaded is never imported.",
    )


@dataclass
class AgentConfig:
    """Agent pi/v: DQN (Mnih et al. 2015) with optional Double DQN and n-step returns."""

    network: str = doc(
        "auto",
        "'auto' picks by observation: 'nature' CNN (Atari), 'minatar' CNN, 'mlp' (vectors).",
        one_of("auto", "nature", "minatar", "mlp"),
    )
    hidden: list[int] = doc([120, 84], "MLP hidden layer sizes (network='mlp').", positive_items)
    lr: float = doc(1e-4, "Adam learning rate.", positive)
    adam_eps: float = doc(1.5e-4, "Adam epsilon.", positive)
    gamma: float = doc(0.99, "Discount factor.", unit_interval)
    batch_size: int = doc(32, "Transitions per agent update (UPDATEAGENT minibatch).", positive)
    target_update_period: int = doc(
        2000, "Copy the online net to the target net every N agent updates.", positive
    )
    double_dqn: bool = doc(
        False, "Select the bootstrap action with the online net (van Hasselt et al. 2016)."
    )
    n_step: int = doc(1, "n-step returns from replay.", positive)
    huber_delta: float = doc(
        1.0, "Huber loss threshold (the DQN paper's error clipping).", positive
    )
    max_grad_norm: float | None = doc(10.0, "Clip the gradient norm (None: no clipping).", positive)
    eps_start: float = doc(1.0, "Initial exploration epsilon.", unit_interval)
    eps_end: float = doc(0.01, "Final exploration epsilon.", unit_interval)
    eps_decay_steps: int = doc(50_000, "Env steps over which epsilon decays linearly.", positive)
    eval_eps: float = doc(0.001, "Epsilon during evaluation.", unit_interval)


@dataclass
class ReplayConfig:
    """The replay buffer: the agent's non-parametric model of the world (m and d in Algorithm 1)."""

    capacity: int = doc(
        100_000, "Transitions kept (each frame stored once, uint8 for images).", positive
    )
    learning_starts: int = doc(
        1_600, "Env steps collected before the first agent update.", non_negative
    )
    updates_per_step: float = doc(
        0.25,
        "Agent updates per env step from replay: 0.25 is DQN's 'every 4 steps'; 1, 2 ... for more.",
        non_negative,
    )


@dataclass
class PlanningConfig:
    """Planning with a model m (Dyna). A phase of n×k model transitions every ``period`` real steps."""

    model: str = doc(
        "none",
        "Model m for planning: 'none' (DQN), 'replay' (the planning budget spent on extra replay "
        "updates: 'DQN extra updates'), 'perfect' (the emulator), 'learned' (trained online), "
        "'pretrained' (trained offline, frozen; see model_path); on vector states (classic "
        "control): 'linear' (least squares), 'gp' (exact GP), 'sparse_gp' (inducing points), "
        "'ensemble' (probabilistic MLPs), 'lstm' (recurrent, for partially observed tasks).",
        one_of("none", "replay", "perfect", "learned", "pretrained", *VECTOR_MODELS),
    )
    shape: str = doc(
        "100x1", "Planning shape NxK: N rollouts of K steps per phase (P = N*K transitions)."
    )
    period: int = doc(4, "Real steps between planning phases (M of Algorithm 1).", positive)
    start_states: str = doc(
        "uniform",
        "Sampler d of rollout start states: 'uniform' over the replay buffer or 'recent'.",
        one_of("uniform", "recent"),
    )
    recent: int = doc(
        10_000, "With start_states='recent': draw from this many newest transitions.", positive
    )
    epsilon: float | None = doc(
        None,
        "Exploration of the rollout policy (None: the agent's current training epsilon).",
        unit_interval,
    )
    update_rule: str = doc(
        "imagined_buffer",
        "How model transitions update the agent: 'imagined_buffer' (stored, then minibatches of "
        "agent.batch_size drawn from them) or 'rollout_step' (each rollout step's n transitions are one minibatch).",
        one_of("imagined_buffer", "rollout_step"),
    )
    updates_per_transition: float = doc(
        0.03125,
        "imagined_buffer: agent updates per model transition (1/32: each transition used ~once).",
        positive,
    )
    imagined_capacity: int = doc(10_000, "imagined_buffer: model transitions kept.", positive)
    real_fraction: float = doc(
        0.0,
        "imagined_buffer: fraction of each planning minibatch drawn from real replay.",
        unit_interval,
    )
    model_path: str | None = doc(
        None, "pretrained: the model checkpoint written by 'dynaworld model-train'."
    )


@dataclass
class ModelConfig:
    """The learned model m: an action-conditional pixel model (planning.model = learned /
    pretrained) or a vector-state model (linear / gp / sparse_gp / ensemble / lstm)."""

    hidden: int = doc(
        512, "Width of the action-conditional transformation (Oh et al. 2015).", positive
    )
    lr: float = doc(
        1e-4, "Adam learning rate of the model (pixel, ensemble, lstm; GPs: gp_lr).", positive
    )
    batch_size: int = doc(
        32, "Real transitions per model update (lstm: windows of history steps).", positive
    )
    updates_per_step: float = doc(
        0.25,
        "Model updates per real step (UPDATEMODEL's own ratio; 'linear' and 'gp' refit every "
        "refit_every steps instead).",
        non_negative,
    )
    holdout_every: int = doc(
        10, "Hold out every N-th episode (by hash) from model training, for its error.", positive
    )
    error_every: int = doc(
        10_000,
        "Log the k-step prediction error every N real steps (0: only at the end).",
        non_negative,
    )
    error_k: int = doc(10, "Measure the prediction error at steps 1..k.", positive)
    refit_every: int = doc(
        500,
        "Vector models: refresh the input/target normalisation every N real steps; 'linear' and "
        "'gp' also refit on their data then.",
        positive,
    )
    ridge: float = doc(1e-3, "linear: ridge (prior precision) of the least-squares fit.", positive)
    gp_points: int = doc(
        500,
        "gp: the exact GP conditions on N training transitions (the terminal ones, up to N/2, "
        "and a uniform sample of the rest), redrawn at each refit.",
        positive,
    )
    gp_iters: int = doc(
        30, "gp: Adam steps on the kernel hyperparameters per refit (warm-started).", non_negative
    )
    gp_lr: float = doc(
        0.05, "gp / sparse_gp: Adam learning rate of the GP (hyper)parameters.", positive
    )
    inducing_points: int = doc(
        128, "sparse_gp: inducing points of the variational GP (trained on minibatches).", positive
    )
    ensemble_size: int = doc(5, "ensemble: members (each on its own minibatches).", positive)
    mlp_hidden: list[int] = doc(
        [200, 200], "ensemble: hidden layer sizes of each member.", positive_items
    )
    lstm_hidden: int = doc(64, "lstm: hidden state size.", positive)
    history: int = doc(
        8,
        "lstm: training window, and the real steps of an episode that warm up its hidden state "
        "before a rollout from a replay state.",
        positive,
    )


@dataclass
class TrainConfig:
    """One training run: Algorithm 1 with its components and counts."""

    name: str = doc("run", "Run name (used for the default run directory).")
    seed: int = doc(0, "Seed for every random number generator of the run.")
    total_steps: int = doc(100_000, "Real environment steps (agent steps) to train for.", positive)
    device: str = doc(
        "auto", "'auto' (cuda if available), 'cpu', 'cuda', 'cuda:1', 'mps'.", device_name
    )
    torch_threads: int | None = doc(
        None, "torch intra-op threads (None: torch's default).", positive
    )
    eval_every: int = doc(10_000, "Evaluate every N env steps (0: only at the end).", non_negative)
    eval_episodes: int = doc(10, "Episodes per evaluation.", positive)
    final_eval_episodes: int = doc(30, "Episodes of the final evaluation (summary.json).", positive)
    checkpoint_every: int = doc(
        25_000, "Write a checkpoint every N env steps (and always at the end).", positive
    )
    keep_checkpoints: int = doc(2, "Checkpoints kept on disk (oldest deleted first).", positive)
    log_every: int = doc(1_000, "Write training metrics every N env steps.", positive)
    progress: bool = doc(True, "Show a progress bar.")
    env: EnvConfig = field(default_factory=EnvConfig, metadata={"help": "Environment."})
    agent: AgentConfig = field(default_factory=AgentConfig, metadata={"help": "Agent."})
    replay: ReplayConfig = field(default_factory=ReplayConfig, metadata={"help": "Replay buffer."})
    planning: PlanningConfig = field(default_factory=PlanningConfig, metadata={"help": "Planning."})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "Learned model."})

    def validate(self) -> None:
        if self.agent.eps_end > self.agent.eps_start:
            raise ConfigError("agent.eps_end: must be <= agent.eps_start")
        if self.planning.model != "none":
            from dynaworld.planning import parse_shape

            parse_shape(self.planning.shape)
        if self.planning.model == "pretrained" and not self.planning.model_path:
            raise ConfigError("planning.model_path: required with planning.model='pretrained'")
        if self.planning.model == "perfect" and not (
            self.env.id.startswith("ALE/") or self.env.id.startswith("MinAtar/")
        ):
            raise ConfigError(
                f"planning.model: 'perfect' needs an ALE or MinAtar game, not {self.env.id!r}"
            )
        if self.planning.model in VECTOR_MODELS and (
            self.env.id.startswith("ALE/") or self.env.id.startswith("MinAtar/")
        ):
            raise ConfigError(
                f"planning.model: {self.planning.model!r} needs vector observations "
                f"(e.g. CartPole-v1), not {self.env.id!r}"
            )
        if self.env.hide_velocities:
            from dynaworld.envs.partial import visible_dims

            visible_dims(self.env.id)  # raises for an unsupported game

    def warnings(self) -> list[str]:
        """Settings that are legal but probably not what the user wants."""
        out = []
        if self.replay.learning_starts >= self.total_steps and self.replay.updates_per_step > 0:
            out.append(
                f"replay.learning_starts={self.replay.learning_starts} >= total_steps={self.total_steps}: "
                "the agent will make no update"
            )
        return out


# Settings a resumed run may change: none of them changes what the run computes. total_steps only
# extends the run; torch_threads may change float rounding (not the algorithm). Everything else
# is what the checkpoint was trained with and is refused on --resume.
RESUME_SAFE: dict[str, str] = {
    "total_steps": "extends the run (it must not go below the step the run reached)",
    "progress": "the progress bar",
    "log_every": "how often metrics are written",
    "checkpoint_every": "how often checkpoints are written",
    "keep_checkpoints": "how many checkpoints stay on disk",
    "final_eval_episodes": "episodes of the final evaluation (after training)",
    "torch_threads": "CPU threads (may change float rounding, not the algorithm)",
}

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


def load_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
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
    """YAML file (optional) + ``key=value`` overrides → validated config."""
    data = load_yaml(path) if path is not None else {}
    cfg: Any = from_dict(cls, merge(data, parse_overrides(overrides)))
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


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
