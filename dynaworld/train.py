"""Train an agent: build Algorithm 1's components from a config, run the loop, log, checkpoint.

The run directory holds ``config.yaml`` (fully resolved), ``metrics.csv``, ``tensorboard/``,
``checkpoints/`` and, once finished, ``summary.json``. ``train(..., resume=True)`` continues from
the newest checkpoint and ends with the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld import checkpoint as ckpt
from dynaworld import rundir
from dynaworld.agents import DQNAgent, q_network
from dynaworld.config import (
    VECTOR_MODELS,
    TrainConfig,
    save_config,
    to_dict,
)
from dynaworld.device import resolve_device
from dynaworld.envs import is_atari, make_env
from dynaworld.envs.snapshots import EmulatorStates
from dynaworld.envs.state import env_state, load_env_state
from dynaworld.errors import CheckpointError, DynaworldError
from dynaworld.evaluate import evaluate
from dynaworld.loop import Loop, LoopState, Planning, every, ratio
from dynaworld.models import ReplayModel
from dynaworld.models.perfect import PerfectModel, replay_payload
from dynaworld.models.pixel import ActionConditionalNet, LearnedModel, termination_error
from dynaworld.models.vector import VectorModel, make_vector_model
from dynaworld.planning import ImaginedReplay, RolloutSampler, parse_shape
from dynaworld.plots import plot_run
from dynaworld.progress import progress_bar
from dynaworld.replay import ReplayBuffer, UniformSampler
from dynaworld.resume import (
    check_new_run_dir,
    default_run_dir,
    finished_summary,
    prepare_run_dir,
    resume_changes,
)
from dynaworld.runlog import (
    MODEL_ERROR_COLUMNS,
    TERMINATION_ERROR_COLUMNS,
    RunLogger,
    write_json,
)
from dynaworld.types import Transition

CHECKPOINT_FORMAT = 1


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
    stateful: dict[str, Any] = field(default_factory=dict)  # everything with a state_dict()


def build(cfg: TrainConfig) -> Components:
    """Algorithm 1's components for ``cfg``.

    DQN as the lecture sees it: the replay buffer is a model m and uniform replay is its sampler d
    (planning source 'replay', ``updates_per_step`` batches per real step). Dyna adds a second
    planning source: a model (perfect / learned / pretrained) rolled out in the planning shape n×k
    from replay start states, or, for 'DQN extra updates', the same budget as more replay updates.
    """
    s_torch, s_env, s_agent, s_sampler, s_plan, s_model = seeds(cfg.seed, 6)
    torch.manual_seed(s_torch)
    random.seed(s_torch)
    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    device = resolve_device(cfg.device)
    pc = cfg.planning
    env = make_env(cfg.env, train=True)
    if pc.model == "perfect":
        env = EmulatorStates(env)
    obs_shape = tuple(env.observation_space.shape or ())
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    net = q_network(cfg.agent.network, obs_shape, n_actions, cfg.agent.hidden)
    agent = DQNAgent(net, n_actions, cfg.agent, device, seed=s_agent)
    buffer = ReplayBuffer.for_observation(
        obs_shape,
        env.observation_space.dtype,
        cfg.replay.capacity,
        stacked=is_atari(cfg.env.id),
        payload=pc.model == "perfect",
    )
    replay = ReplayModel(
        buffer,
        n_step=cfg.agent.n_step,
        gamma=cfg.agent.gamma,
        payload=replay_payload if pc.model == "perfect" else None,
    )
    sampler = UniformSampler(buffer, cfg.agent.batch_size, seed=s_sampler)
    start = cfg.replay.learning_starts
    planning = [Planning(replay, sampler, ratio(cfg.replay.updates_per_step, start), name="replay")]
    stateful: dict[str, Any] = {"agent": agent, "model": replay, "sampler": sampler}
    if pc.model != "none":
        n, k = parse_shape(pc.shape)
        if pc.model == "replay":  # DQN extra updates: the planning budget as replay minibatches
            extra = UniformSampler(buffer, cfg.agent.batch_size, seed=s_plan)
            per_step = n * k * pc.updates_per_transition / pc.period
            planning.append(Planning(replay, extra, ratio(per_step, start), name="replay"))
            stateful["extra_sampler"] = extra
        else:
            model = make_model(cfg, env, buffer, device, seed=s_model)
            eps = pc.epsilon if pc.epsilon is not None else agent.epsilon
            recent = pc.recent if pc.start_states == "recent" else None
            rollouts = RolloutSampler(buffer, n, k, eps, seed=s_plan, recent=recent)
            learner = None
            if pc.update_rule == "imagined_buffer":
                learner = ImaginedReplay(
                    agent,
                    pc.imagined_capacity,
                    cfg.agent.batch_size,
                    pc.updates_per_transition,
                    seed=s_plan + 7,
                    real=UniformSampler(buffer, 1, seed=s_plan + 11),
                    real_model=replay,
                    real_fraction=pc.real_fraction,
                )
                stateful["imagined"] = learner
            planning.append(
                Planning(model, rollouts, every(pc.period, k, start), learner, name=pc.model)
            )
            stateful.update(rollouts=rollouts, planning_model=model)
    loop = Loop(env, agent, planning, K=cfg.total_steps, M=1)
    loop.state.obs, _ = env.reset(seed=s_env)
    return Components(cfg, env, agent, buffer, loop, device, stateful)


def make_model(
    cfg: TrainConfig, env: Any, buffer: ReplayBuffer, device: torch.device, seed: int
) -> Any:
    """The planning model m named by ``cfg.planning.model``."""
    kind = cfg.planning.model
    if kind == "perfect":
        return PerfectModel(cfg.env, seed=seed)
    mc = cfg.model
    if kind in VECTOR_MODELS:
        obs_shape = tuple(env.observation_space.shape or ())
        if len(obs_shape) != 1:
            raise DynaworldError(
                f"planning.model={kind} needs vector observations, not {obs_shape}"
            )
        n_actions = int(env.action_space.n)
        start = cfg.replay.learning_starts
        return make_vector_model(kind, mc, buffer, obs_shape[0], n_actions, seed, device, start)
    net = ActionConditionalNet(
        tuple(env.observation_space.shape), int(env.action_space.n), mc.hidden
    )
    model = LearnedModel(
        net,
        buffer,
        device,
        seed,
        lr=mc.lr,
        batch_size=mc.batch_size,
        updates_per_step=mc.updates_per_step,
        start=cfg.replay.learning_starts,
        holdout_every=mc.holdout_every,
        frozen=kind == "pretrained",
    )
    if kind == "pretrained":
        load_pretrained(model, cfg.planning.model_path)
    return model


def load_pretrained(model: LearnedModel, path: str | None) -> None:
    state = ckpt.load_checkpoint(path or "")
    if "model" not in state:
        raise DynaworldError(
            f"{path} is not a model checkpoint (write one with 'dynaworld model-train')"
        )
    try:
        model.net.load_state_dict(state["model"]["net"])
    except RuntimeError as e:
        raise DynaworldError(
            f"{path} does not fit this game's model: {str(e).splitlines()[0]}"
        ) from None


# ------------------------------------------------------------------------------ callbacks


class Trainer:
    """Callbacks of the loop: progress bar, metrics, evaluation and checkpoints."""

    def __init__(
        self,
        c: Components,
        run_dir: Path,
        logger: RunLogger,
        wall_time: float = 0.0,
        returns: list[float] | None = None,
    ) -> None:
        self.c, self.dir, self.log = c, run_dir, logger
        self.returns: deque[float] = deque(returns or [], maxlen=100)
        self.wall_before = wall_time
        self.t0 = time.perf_counter()
        self.steps0 = c.loop.state.env_steps
        self.bar = None
        self.missed: set[str] = set()
        self.env_state()  # say at the start what a checkpoint will not hold
        if c.cfg.progress:
            self.bar = progress_bar(
                total=c.cfg.total_steps,
                initial=self.steps0,
                unit="step",
                desc=c.cfg.name,
            )

    def env_state(self) -> dict[str, Any]:
        """E's state for a checkpoint; names once what it cannot hold (see ``envs.state``)."""
        state, missed = env_state(self.c.env)
        new = [m for m in missed if m not in self.missed]
        if new:
            self.missed.update(new)
            print(
                "dynaworld: warning: this environment's state is not fully checkpointed: "
                f"{'; '.join(new)}. A resumed run rebuilds these from the config, so it continues "
                "but not bit-identically.",
                flush=True,
            )
        return state

    def wall_time(self) -> float:
        return self.wall_before + time.perf_counter() - self.t0

    def counters(self, st: LoopState) -> dict[str, Any]:
        return {
            "agent_updates": st.agent_updates,
            "model_transitions": st.model_transitions,
            "wall_time_s": round(self.wall_time(), 3),
        }

    def on_step(self, t: Transition, st: LoopState) -> None:
        ep = t.info.get("episode") if t.episode_end else None
        if ep is not None:
            self.returns.append(float(ep["r"]))
            self.log.log(
                st.env_steps,
                {
                    "episode_return": float(ep["r"]),
                    "episode_length": int(ep["l"]),
                    **self.counters(st),
                },
            )

    def on_iteration(self, st: LoopState) -> None:
        cfg, n = self.c.cfg, st.env_steps
        if self.bar is not None:
            self.bar.update(n - self.bar.n)
            if n % 100 == 0 and self.returns:
                self.bar.set_postfix(ret=f"{np.mean(list(self.returns)[-10:]):.1f}", refresh=False)
        if n % cfg.log_every == 0:
            sps = (n - self.steps0) / max(1e-9, time.perf_counter() - self.t0)
            row = {**self.c.agent.pop_metrics(), **self.counters(st), "steps_per_s": round(sps, 1)}
            if not np.isfinite(row.get("loss", 0.0)):
                raise DynaworldError(
                    f"training diverged: the agent's loss is {row['loss']} at step {n:,} "
                    f"(agent.lr={cfg.agent.lr}); the last checkpoint before it is kept"
                )
            if self.returns:
                row["train_return_100"] = float(np.mean(self.returns))
            model = self.c.stateful.get("planning_model")
            if isinstance(model, LearnedModel | VectorModel) and not model.frozen:
                row.update(model_loss=model.last_loss, model_updates=model.updates)
            self.log.log(n, row)
        if cfg.eval_every and n % cfg.eval_every == 0 and n < cfg.total_steps:
            self.evaluate(st, cfg.eval_episodes)
        every = cfg.model.error_every
        if (every and n % every == 0) or n == cfg.total_steps:
            self.model_error(st)
        if n % cfg.checkpoint_every == 0 or n == cfg.total_steps:
            self.save(st)

    def model_error(self, st: LoopState) -> None:
        """k-step prediction error of a learned model on held-out real data → model_error.csv,
        and its one-step termination error → termination_error.csv."""
        model = self.c.stateful.get("planning_model")
        if not isinstance(model, LearnedModel | VectorModel):
            return
        err, ends = measure_model(model, self.c.cfg, st.env_steps)
        for k, (fe, re) in enumerate(zip(*(err or ((), ())), strict=True), start=1):
            self.log.table(
                "model_error.csv",
                MODEL_ERROR_COLUMNS,
                {
                    "env_steps": st.env_steps,
                    "k": k,
                    "frame_error": float(fe),
                    "reward_error": float(re),
                },
            )
        if ends is not None:
            self.log.table(
                "termination_error.csv",
                TERMINATION_ERROR_COLUMNS,
                dict(zip(TERMINATION_ERROR_COLUMNS, (st.env_steps, *ends), strict=True)),
            )

    def evaluate(self, st: LoopState, episodes: int) -> np.ndarray:
        cfg = self.c.cfg
        returns = evaluate(
            self.c.agent,
            cfg.env,
            episodes,
            cfg.agent.eval_eps,
            seed=cfg.seed * 1_000_003 + st.env_steps,
        )
        self.log.log(
            st.env_steps,
            {
                "eval_return_mean": float(returns.mean()),
                "eval_return_std": float(returns.std()),
                **self.counters(st),
            },
        )
        return returns

    # -------------------------------------------------------------- checkpoints
    def save(self, st: LoopState) -> None:
        self.log.flush()
        c = self.c
        state = {
            "format": CHECKPOINT_FORMAT,
            "loop": {k: v for k, v in vars(st).items() if k != "obs"},
            "obs": torch.from_numpy(np.asarray(st.obs)),
            "components": {
                k: v.state_dict() for k, v in c.stateful.items() if hasattr(v, "state_dict")
            },
            "env": self.env_state(),
            "torch_rng": torch.get_rng_state(),
            "returns": list(self.returns),
            "wall_time_s": self.wall_time(),
        }
        ckpt.save_checkpoint(self.dir, st.env_steps, state, keep=c.cfg.keep_checkpoints)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def measure_model(
    model: LearnedModel | VectorModel, cfg: TrainConfig, env_steps: int
) -> tuple[tuple[np.ndarray, np.ndarray] | None, tuple[int, float, float] | None]:
    """A learned model's k-step and termination errors on held-out real data at ``env_steps``:
    the same samples whether measured during training or later from its checkpoint."""
    rng = np.random.Generator(np.random.PCG64(cfg.seed * 7919 + env_steps))
    return model.k_step_error(cfg.model.error_k, rng=rng), termination_error(model, rng=rng)


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
        restore(c, state)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise CheckpointError(f"{path} does not fit this run ({type(e).__name__}: {e})") from None
    return state


# ------------------------------------------------------------------------------ entry points


def train(
    cfg: TrainConfig, run_dir: str | Path | None = None, resume: bool = False
) -> dict[str, Any]:
    """Run (or resume) one training run; returns the summary written to ``summary.json``.

    A new run checks its directory and builds every component before it writes anything; a
    resumed run loads its checkpoint before it records what the resume changed.
    """
    d = Path(run_dir) if run_dir else default_run_dir(cfg)
    if resume:
        changes = resume_changes(d, cfg)
        if changes is None:
            return finished_summary(d)
    else:
        check_new_run_dir(d)
    c = build(cfg)
    print(
        f"dynaworld: {cfg.env.id} | {c.buffer.describe()} | device {c.device} | run dir {d}",
        flush=True,
    )
    for p in ckpt.remove_partial(d) if resume else ():
        print(f"dynaworld: removed {p}, a checkpoint a crash left half-written", flush=True)
    latest = ckpt.latest_checkpoint(d) if resume else None
    trainer_kwargs: dict[str, Any] = {}
    if latest is not None:
        state = load_and_restore(c, latest)
        trainer_kwargs = {"wall_time": state["wall_time_s"], "returns": state["returns"]}
        print(f"dynaworld: resumed from {latest} at step {c.loop.state.env_steps:,}", flush=True)
    if resume:
        if changes:
            save_config(cfg, d / "config.yaml")
        rundir.record(d, "resumed", from_step=c.loop.state.env_steps, overrides=changes)
    else:
        prepare_run_dir(cfg, d)
    logger = RunLogger(d, resume_step=c.loop.state.env_steps if resume else None)
    trainer = Trainer(c, d, logger, **trainer_kwargs)
    c.loop.callbacks = [trainer]
    try:
        st = c.loop.run()
        final = trainer.evaluate(st, cfg.final_eval_episodes)
    finally:
        trainer.close()
    summary = {
        "env_id": cfg.env.id,
        "seed": cfg.seed,
        "eval_return_mean": float(final.mean()),
        "eval_return_std": float(final.std()),
        "eval_episodes": int(len(final)),
        "train_return_100": float(np.mean(trainer.returns)) if trainer.returns else None,
        "env_steps": st.env_steps,
        "agent_updates": st.agent_updates,
        "model_transitions": st.model_transitions,
        "episodes": st.episodes,
        "wall_time_s": round(trainer.wall_time(), 2),
    }
    logger.close()
    write_json(d / "summary.json", summary)
    plot_run(d, title=f"{cfg.name}: {cfg.env.id}")
    return summary


__all__ = [
    "train", "build", "Components", "measure_model", "restore", "load_and_restore",
    "to_dict",
]  # fmt: skip
