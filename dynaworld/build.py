"""Algorithm 1's components for a training config, and their state in a checkpoint.

``build`` is straight-line assembly: the env E, the agent, the replay buffer (D, written by the
loop's data step), DQN's replay planning, and the planning model named by ``planning.model``
(``registry``), rolled out in its planning shape n×k.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld import checkpoint as ckpt
from dynaworld.agents import DQNAgent, q_network
from dynaworld.agents.networks import network_kind
from dynaworld.config import RESUME_SAFE, TrainConfig, flatten, parse_shape, to_dict
from dynaworld.device import cpu_threads, resolve_device
from dynaworld.envs import is_atari, make_env
from dynaworld.envs.snapshots import EmulatorStates
from dynaworld.envs.state import load_env_state
from dynaworld.errors import CheckpointError, ConfigError, DynaworldError
from dynaworld.loop import Loop, Planning, Ratio, every
from dynaworld.models import ReplayModel, ReplayWriter
from dynaworld.models.base import LearningModel
from dynaworld.models.heldout import termination_error
from dynaworld.models.perfect import replay_sim
from dynaworld.planning import ImaginedReplay, RolloutSampler
from dynaworld.registry import ModelContext, ModelSpec, make_model, model_spec
from dynaworld.replay import ReplayBuffer, UniformSampler
from dynaworld.resume import read_run_config


def seeds(seed: int, n: int) -> list[int]:
    """Independent child seeds for the run's random number generators."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


@dataclass
class Components:
    """What Algorithm 1 runs on for one config (see ``build``)."""

    cfg: TrainConfig
    env: Any
    agent: DQNAgent
    buffer: ReplayBuffer
    loop: Loop
    device: torch.device
    model_spec: ModelSpec  # what the planning model can do (registry)
    stateful: dict[str, Any] = field(default_factory=dict)  # everything with a state_dict()


def build(cfg: TrainConfig) -> Components:
    """Algorithm 1's components for ``cfg``.

    DQN as the lecture sees it: the replay buffer is a model m and uniform replay is its sampler d
    (planning source 'replay', ``updates_per_step`` batches per real step). Dyna adds a second
    planning source: a model (``registry.MODELS``, or a user's) rolled out in the planning shape
    n×k from replay start states, or, for 'DQN extra updates', the same budget as more replay
    updates.
    """
    s_torch, s_env, s_agent, s_sampler, s_plan, s_model = seeds(cfg.seed, 6)
    torch.manual_seed(s_torch)
    random.seed(s_torch)
    device = resolve_device(cfg.device)
    pc, spec = cfg.planning, model_spec(cfg.planning.model)
    env = make_env(cfg.env, train=True)
    if spec.simulator:
        env = EmulatorStates(env)
    obs_shape = tuple(env.observation_space.shape or ())
    torch.set_num_threads(
        cpu_threads(cfg.torch_threads, network_kind(cfg.agent.network, obs_shape))
    )
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    check_sizes(cfg, obs_shape, env.observation_space.dtype, n_actions)
    net = q_network(cfg.agent.network, obs_shape, n_actions, cfg.agent.hidden)
    check_network(net, cfg, obs_shape)
    agent = DQNAgent(net, n_actions, cfg.agent, device, seed=s_agent)
    buffer = ReplayBuffer.for_observation(
        obs_shape,
        env.observation_space.dtype,
        cfg.replay.capacity,
        stacked=is_atari(cfg.env.id),
        sim=spec.simulator,
    )
    writer = ReplayWriter(buffer, sim=replay_sim if spec.simulator else None)
    replay = ReplayModel(buffer, n_step=cfg.agent.n_step, gamma=cfg.agent.gamma)
    sampler = UniformSampler(buffer, cfg.agent.batch_size, seed=s_sampler)
    start = cfg.replay.learning_starts
    planning = [Planning(replay, sampler, Ratio(cfg.replay.updates_per_step, start), name="replay")]
    stateful: dict[str, Any] = {"agent": agent, "data": writer, "sampler": sampler}
    n, k = parse_shape(pc.shape) if spec.plan != "none" else (0, 0)
    if spec.plan == "replay":  # DQN extra updates: the planning budget as replay minibatches
        extra = UniformSampler(buffer, cfg.agent.batch_size, seed=s_plan)
        per_step = n * k * pc.updates_per_transition / pc.period
        planning.append(Planning(replay, extra, Ratio(per_step, start), name="replay"))
        stateful["extra_sampler"] = extra
    elif spec.plan == "rollouts":
        if spec.observations == "vector" and len(obs_shape) != 1:
            raise DynaworldError(f"planning.model={pc.model} needs vector observations, not {obs_shape}")  # fmt: skip
        model = make_model(spec, ModelContext(cfg, obs_shape, n_actions, buffer, device, s_model))
        planning.append(model_planning(cfg, model, agent, replay, s_plan, stateful))
    loop = Loop(env, agent, planning, data=[writer], K=cfg.total_steps, M=1)
    loop.state.obs, _ = env.reset(seed=s_env)
    return Components(cfg, env, agent, buffer, loop, device, spec, stateful)


def memory_bytes() -> int:
    """This machine's physical memory."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_sizes(cfg: TrainConfig, obs_shape: tuple[int, ...], dtype: Any, n_actions: int) -> None:
    """Refuse, before anything is allocated or written, sizes that cannot work: a replay buffer
    smaller than a minibatch, or a replay buffer and Q-networks (online, target, Adam's two
    moments) larger than this machine's memory."""
    rc, ac = cfg.replay, cfg.agent
    need = max(ac.batch_size, ac.n_step + 1)
    if rc.capacity < need:
        raise ConfigError(
            f"replay.capacity={rc.capacity}: must hold at least one minibatch "
            f"(agent.batch_size={ac.batch_size}, agent.n_step={ac.n_step}): use >= {need}"
        )
    frame = int(np.prod(obs_shape[1:] if is_atari(cfg.env.id) else obs_shape))
    replay = rc.capacity * (frame * np.dtype(dtype).itemsize + 16)
    with torch.device("meta"):  # counts parameters without allocating them
        params = sum(
            p.numel() for p in q_network(ac.network, obs_shape, n_actions, ac.hidden).parameters()
        )
    total, have = replay + 4 * 4 * params, memory_bytes()
    if total > 0.8 * have:
        raise ConfigError(
            f"this run needs about {total / 2**30:,.1f} GiB (replay.capacity={rc.capacity:,}: "
            f"{replay / 2**30:,.1f} GiB; {params:,} network parameters x 4 copies: "
            f"{16 * params / 2**30:,.1f} GiB), more than this machine's {have / 2**30:,.0f} GiB: "
            "lower replay.capacity or agent.hidden"
        )


def check_network(net: torch.nn.Module, cfg: TrainConfig, obs_shape: tuple[int, ...]) -> None:
    """One forward pass on a blank observation: a network that cannot take this environment's
    observations is a ConfigError now, not a crash after the run folder is written."""
    try:
        with torch.no_grad():
            net(torch.zeros((1, *obs_shape)))
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0][:200]
        raise ConfigError(
            f"agent.network={cfg.agent.network} cannot take {cfg.env.id}'s observations of shape "
            f"{obs_shape} ({first}); use 'auto'"
        ) from None


def model_planning(
    cfg: TrainConfig,
    model: Any,
    agent: DQNAgent,
    replay: ReplayModel,
    seed: int,
    stateful: dict[str, Any],
) -> Planning:
    """Dyna's planning source: ``model`` rolled out n×k from replay start states every
    ``planning.period`` real steps, its transitions reaching the agent by the update rule."""
    pc, buffer = cfg.planning, replay.buffer
    n, k = parse_shape(pc.shape)
    eps = pc.epsilon if pc.epsilon is not None else agent.epsilon
    recent = pc.recent if pc.start_states == "recent" else None
    rollouts = RolloutSampler(buffer, n, k, eps, seed=seed, recent=recent)
    learner = None
    if pc.update_rule == "imagined_buffer":
        learner = ImaginedReplay(
            agent,
            pc.imagined_capacity,
            cfg.agent.batch_size,
            pc.updates_per_transition,
            seed=seed + 7,
            real=UniformSampler(buffer, 1, seed=seed + 11),
            real_model=replay,
            real_fraction=pc.real_fraction,
        )
        stateful["imagined"] = learner
    stateful.update(rollouts=rollouts, planning_model=model)
    start = cfg.replay.learning_starts
    return Planning(model, rollouts, every(pc.period, k, start), learner, name="model")


def measure_model(
    model: LearningModel, cfg: TrainConfig, env_steps: int
) -> tuple[tuple[np.ndarray, np.ndarray] | None, tuple[int, float, float] | None]:
    """A learned model's k-step and termination errors on held-out real data at ``env_steps``:
    the same samples whether measured during training or later from its checkpoint."""
    rng = np.random.Generator(np.random.PCG64(cfg.seed * 7919 + env_steps))
    return model.k_step_error(cfg.model.error_k, rng=rng), termination_error(model, rng=rng)


COUNTERS = ("env_steps", "agent_updates", "model_transitions", "episodes")


def check_state(c: Components, state: dict[str, Any], step: int | None) -> None:
    """Raise CheckpointError unless ``state`` belongs to this run: made with the same settings
    (all but ``RESUME_SAFE`` ones), every component present, counters that are non-negative
    integers with ``env_steps`` the checkpoint's own step."""
    made_with = state.get("config")
    if made_with is not None:
        now = flatten(to_dict(c.cfg))
        if not isinstance(made_with, dict):
            raise CheckpointError("its config record is not a mapping")
        keys = sorted(k for k in set(now) | set(made_with)
                      if k not in RESUME_SAFE and k != "name" and now.get(k) != made_with.get(k))  # fmt: skip
        if keys:
            shown = ", ".join(
                f"{k}={made_with.get(k)!r} (config.yaml: {now.get(k)!r})" for k in keys[:5]
            )
            raise CheckpointError(
                f"was made with other settings than config.yaml says: {shown}; config.yaml was "
                "edited after the run started: restore it, or start a new run"
            )
    want = {k for k, v in c.stateful.items() if hasattr(v, "state_dict")}
    have = state.get("components")
    if not isinstance(have, dict) or want - set(have):
        missing = sorted(want - set(have or {}))
        raise CheckpointError(f"has no state for {', '.join(missing)}: it would resume untrained")
    loop = state.get("loop")
    if not isinstance(loop, dict):
        raise CheckpointError("has no loop counters")
    for k in COUNTERS:
        v = loop.get(k)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise CheckpointError(f"counter {k}={v!r} is not a non-negative integer")
    if step is not None and loop["env_steps"] != step:
        raise CheckpointError(
            f"counts env_steps={loop['env_steps']:,} in the folder of step {step:,}"
        )


def restore(c: Components, state: dict[str, Any]) -> None:
    for k, v in state["loop"].items():
        setattr(c.loop.state, k, v)
    c.loop.state.obs = state["obs"].numpy()
    for k, v in state["components"].items():
        c.stateful[k].load_state_dict(v)
    load_env_state(c.env, state["env"])
    torch.set_rng_state(state["torch_rng"])


def load_and_restore(c: Components, path: Path) -> dict[str, Any]:
    """Load checkpoint ``path`` into freshly built components; every failure names the file."""
    state = ckpt.load_checkpoint(path)
    try:
        check_state(c, state, ckpt.step_of(path))
        restore(c, state)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise CheckpointError(f"{path} does not fit this run ({type(e).__name__}: {e})") from None
    return state


def load_agent(run_dir: str | Path) -> tuple[TrainConfig, DQNAgent, Path]:
    """A run's config, its trained agent alone (no replay buffer or planning model is built)
    and the checkpoint it came from (the newest)."""
    cfg = read_run_config(run_dir)
    latest = ckpt.latest_checkpoint(run_dir)
    if latest is None:
        raise DynaworldError(f"{run_dir} has no checkpoint yet")
    env = make_env(cfg.env, train=False)
    shape = tuple(env.observation_space.shape or ())
    n = int(env.action_space.n)  # type: ignore[attr-defined]
    env.close()
    net = q_network(cfg.agent.network, shape, n, cfg.agent.hidden)
    agent = DQNAgent(net, n, cfg.agent, resolve_device(cfg.device), seed=cfg.seed)
    state = ckpt.load_checkpoint(latest)
    try:
        agent.load_state_dict(state["components"]["agent"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{latest} does not fit this run's agent ({first[:300]})") from None
    return cfg, agent, latest
