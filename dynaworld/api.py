"""The Python API, in Stable-Baselines3's style: train a run, load it, act and evaluate with it.

    import dynaworld
    run = dynaworld.train("dqn_cartpole", run_dir="runs/cp", total_steps=20_000)
    run = dynaworld.load("runs/cp")              # any finished or checkpointed run folder
    env = run.make_env()                         # the env with the run's preprocessing
    obs, _ = env.reset(seed=0)
    action, _ = run.agent.predict(obs, deterministic=True)
    returns = run.evaluate(episodes=10)

World Models runs load the same way (``run.agent.predict(obs, state)`` carries M's state,
``run.make_env()``, ``run.dream_env()``, ``run.evaluate``).
Loading reads only plain data (``weights_only`` checkpoints) and imports only installed modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dynaworld import rundir
from dynaworld.agents import DQNAgent
from dynaworld.build import load_agent
from dynaworld.config import TrainConfig, from_dict, load_config, merge, parse_overrides, to_dict
from dynaworld.envs import make_env
from dynaworld.envs.worldmodels import ACTION_SPACES, make_wm_env
from dynaworld.errors import DynaworldError
from dynaworld.evaluate import evaluate
from dynaworld.files import read_json
from dynaworld.resume import default_run_dir, resume_config
from dynaworld.training import train as run_training
from dynaworld.watch import record_gif
from dynaworld.worldmodels import control
from dynaworld.worldmodels.pipeline import Pipeline, load_run_config
from dynaworld.worldmodels.rollout import WorldModelsPolicy, load_m, load_v


class Policy:
    """A trained agent's greedy policy: ``predict`` as in SB3 (one observation or a batch)."""

    def __init__(self, agent: DQNAgent, obs_shape: tuple[int, ...], eval_eps: float) -> None:
        self.agent, self.obs_shape, self.eval_eps = agent, obs_shape, eval_eps
        self.rng = np.random.default_rng(0)

    def _batch(self, obs: Any) -> tuple[np.ndarray, bool]:
        x = np.asarray(obs)
        if x.dtype == bool:
            x = x.astype(np.float32)
        shape = self.obs_shape
        if x.shape == shape or x.shape[1:] == shape:
            single = x.shape == shape
        elif len(shape) == 3 and x.shape[-3:] == (shape[1], shape[2], shape[0]):  # H, W, C
            single = x.ndim == 3
            x = np.moveaxis(x, -1, -3)  # a plain gym.make env's channels-last frames
        else:
            raise DynaworldError(
                f"observation of shape {x.shape}: this agent takes {shape} (or a batch of them); "
                "make the env with run.make_env() for the run's preprocessing"
            )
        return (x[None] if single else x).astype(np.float32, copy=False), single

    def predict(self, obs: Any, deterministic: bool = True) -> tuple[Any, None]:
        """(action(s), None): greedy, or epsilon-greedy at the run's eval epsilon."""
        x, single = self._batch(obs)
        eps = 0.0 if deterministic else self.eval_eps
        with torch.no_grad():
            actions = self.agent.policy(x, eps, self.rng)
        return (int(actions[0]) if single else actions), None

    def policy(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        return self.agent.policy(obs, epsilon, rng)  # what ``evaluate`` calls


class Run:
    """A training run folder: its config, summary, agent, env and evaluation."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        self.config, agent, self.checkpoint = load_agent(self.dir)
        shape = tuple(self.make_env().observation_space.shape or ())
        self.agent = Policy(agent, shape, self.config.agent.eval_eps)

    @property
    def summary(self) -> dict[str, Any] | None:
        """``summary.json`` of a finished run (None while it is unfinished)."""
        path = self.dir / "summary.json"
        return read_json(path, "summary") if path.is_file() else None

    def make_env(self, train: bool = False, **overrides: Any) -> gym.Env:
        """The run's env (``train=False``: raw scores, as evaluation sees them)."""
        return make_env(self.config.env, train=train, **overrides)

    def train(self, total_steps: int | None = None, callbacks: Sequence[Any] = ()) -> Run:
        """Continue this run from its newest checkpoint: to ``total_steps`` (a finished run is
        extended), or to its own total (an interrupted one). Returns the run, reloaded."""
        extra = [f"total_steps={total_steps}"] if total_steps is not None else []
        run_training(resume_config(self.dir, extra), self.dir, resume=True, callbacks=callbacks)
        self.__init__(self.dir)  # type: ignore[misc]
        return self

    def record(self, path: str | Path, episodes: int = 1, seed: int = 12345) -> dict[str, Any]:
        """Evaluation episodes as an animated GIF at ``path`` (``dynaworld.watch``)."""
        return record_gif(self, path, episodes, seed)

    def evaluate(self, episodes: int = 30, seed: int = 12345, progress: bool = False) -> np.ndarray:
        """Returns of ``episodes`` evaluation episodes at the run's eval epsilon."""
        cfg = self.config
        return evaluate(self.agent, cfg.env, episodes, cfg.agent.eval_eps, seed, progress=progress,
                        max_steps=cfg.eval_max_steps)  # fmt: skip


class CarriedPolicy:
    """V + M + C's policy in SB3's style for policies with a state (sb3-contrib's recurrent
    ones): ``predict(obs, state, episode_start) -> (actions, state)``, ``state`` carrying each
    episode's M state from step to step (None, or ``episode_start[i]`` true: a new episode).
    ``obs``: one (64, 64, 3) uint8 frame of ``run.make_env()`` or a batch of them."""

    def __init__(self, policy: WorldModelsPolicy) -> None:
        self.policy = policy

    def predict(
        self,
        obs: Any,
        state: list[Any] | None = None,
        episode_start: Sequence[bool] | None = None,
        deterministic: bool = True,
    ) -> tuple[Any, list[Any]]:
        frames = np.asarray(obs)
        single = frames.ndim == 3
        frames = frames[None] if single else frames
        carry = list(state) if state is not None else [None] * len(frames)
        for i in range(len(frames)):
            if carry[i] is None or (episode_start is not None and episode_start[i]):
                carry[i] = self.policy.start(0, i)
        actions, carry = self.policy.act(frames, carry)
        return (actions[0] if single else actions), carry


class WorldModelsRun:
    """A World Models run folder: C of an iteration as an agent, M's dream, real evaluation."""

    def __init__(self, run_dir: str | Path, iteration: int | None = None) -> None:
        self.pipeline = Pipeline(load_run_config(run_dir), run_dir, progress=False, record=False)
        self.paths, self.config = self.pipeline.paths, self.pipeline.cfg
        self.iteration = iteration or self.paths.last_iteration()

    @property
    def controller(self) -> tuple[Any, np.ndarray]:
        """(C, its best parameters) of this iteration."""
        path = self.paths.c_dir(self.iteration) / "params.npy"
        if not path.is_file():
            raise DynaworldError(f"{path} does not exist: train C first")
        return control.controller(self.paths), np.load(path)

    @property
    def agent(self) -> CarriedPolicy:
        """V + M + C of this iteration as a policy with a carried state (``predict``)."""
        c, params = self.controller
        p = self.paths
        v = load_v(p.dir / "vae.pt", str(p.device))
        m = load_m(p.m_path(self.iteration), str(p.device)) if p.observe != "z" else None
        space = ACTION_SPACES[self.config.env.id]
        return CarriedPolicy(WorldModelsPolicy(v, m, c, params, p.observe, space))

    def make_env(self) -> gym.Env:
        """The real environment as C is evaluated on it (64 × 64 frames, Gymnasium)."""
        return make_wm_env(**self.paths.env_kw(training=False))

    def dream_env(self, num_envs: int = 1, seed: int = 0) -> Any:
        """M's dream as a Gymnasium VectorEnv (``DreamEnv``)."""
        return control.dream_env(self.paths, self.iteration, num_envs, seed)

    def evaluate(self, episodes: int = 100) -> dict[str, Any]:
        """C on real episodes (writes the controller's eval.json, as the CLI does)."""
        return self.pipeline.evaluate(episodes, self.iteration)


def load(run_dir: str | Path) -> Run | WorldModelsRun:
    """A run folder made by ``dynaworld train`` or ``dynaworld worldmodels``."""
    if not Path(run_dir).is_dir():
        raise DynaworldError(f"{run_dir}: no such run folder")
    kind = rundir.kind_of(run_dir)
    if kind == "worldmodels":
        return WorldModelsRun(run_dir)
    if kind != "train":
        raise DynaworldError(f"{run_dir} is not a run folder (it is {kind or 'not dynaworld'}'s)")
    return Run(run_dir)


def train(
    config: str | Path | dict[str, Any] | TrainConfig,
    run_dir: str | Path | None = None,
    callbacks: Sequence[Any] = (),
    **overrides: Any,
) -> Run:
    """Train a run from a config: a shipped config's name, a YAML file, a dict of config keys
    (nested as in the YAML) or a ``TrainConfig``; ``overrides`` are config keys, '__' for a
    section's dot (``agent__lr=1e-4`` is ``agent.lr=1e-4``); ``callbacks``: your own hooks
    (``dynaworld.callbacks.Callback``). Returns the loaded run."""
    pairs = [f"{k.replace('__', '.')}={_yaml(v)}" for k, v in overrides.items()]
    if isinstance(config, TrainConfig):
        config = to_dict(config)
    if isinstance(config, dict):
        cfg = from_dict(TrainConfig, merge(config, parse_overrides(pairs)))
        cfg.validate()
    else:
        cfg = load_config(config, pairs)
    d = Path(run_dir) if run_dir else default_run_dir(cfg)
    run_training(cfg, d, callbacks=callbacks)
    return Run(d)


def _yaml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "null" if v is None else str(v)
