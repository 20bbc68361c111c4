"""Evaluation: raw-score episodes of the greedy-ish policy, several environments in lockstep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dynaworld import checkpoint as ckpt
from dynaworld.build import build, load_and_restore, measure_model
from dynaworld.config import EnvConfig
from dynaworld.envs import make_env
from dynaworld.episodes import play_episodes
from dynaworld.errors import DynaworldError
from dynaworld.progress import progress_bar
from dynaworld.resume import read_run_config
from dynaworld.runlog import TERMINATION_ERROR_COLUMNS, CsvLog, read_csv


class EpsilonGreedy:
    """An agent's ``policy(obs, epsilon, rng)`` as an ``EpisodePolicy`` (it carries nothing)."""

    def __init__(self, agent: Any, epsilon: float, rng: np.random.Generator) -> None:
        self.agent, self.epsilon, self.rng = agent, epsilon, rng

    def start(self, seed: int, episode: int) -> None:
        return None

    def act(self, obs: np.ndarray, carry: list[Any]) -> tuple[list[int], list[Any]]:
        return [int(a) for a in self.agent.policy(obs, self.epsilon, self.rng)], carry


def evaluate(
    agent: Any,
    env_cfg: EnvConfig,
    episodes: int,
    epsilon: float,
    seed: int,
    parallel: int = 8,
    progress: bool = False,
    max_steps: int | None = None,
) -> np.ndarray:
    """Returns of ``episodes`` evaluation episodes (unclipped rewards, no life-loss terminals).

    Up to ``parallel`` environments run in lockstep so the agent acts on a batch at a time.
    Episode i is reset with seed ``seed + i``: the same seed gives the same evaluation. An
    episode still running after ``max_steps`` steps is cut there, its return so far counted.
    """
    policy = EpsilonGreedy(agent, epsilon, np.random.Generator(np.random.PCG64(seed)))
    envs = [make_env(env_cfg, train=False) for _ in range(min(parallel, episodes))]
    bar = progress_bar(
        total=episodes, desc=f"evaluate {env_cfg.id}", unit="episode", disable=not progress
    )
    try:
        seeds = [seed + i for i in range(episodes)]
        returns = play_episodes(envs, policy, seeds, max_steps, on_end=lambda i, r: bar.update())
    finally:
        bar.close()
        for env in envs:
            env.close()
    return np.array(returns)


def measure_run_model(run_dir: str | Path) -> dict[str, Any]:
    """A run's learned model measured at its newest checkpoint on the run's held-out episodes:
    k-step frame/state and reward errors and the termination error, on the same samples as
    training measured at that step. Adds that step's row to ``termination_error.csv`` if the run
    has none (runs made before the termination error was logged); nothing else is written."""
    d = Path(run_dir)
    cfg = read_run_config(d)
    latest = ckpt.latest_checkpoint(d)
    if latest is None:
        raise DynaworldError(f"{d} has no checkpoint to measure")
    c = build(cfg)
    load_and_restore(c, latest)
    model = c.stateful.get("planning_model")
    if model is None or not c.model_spec.learns:
        raise DynaworldError(
            f"{d} plans with no learned model (planning.model={cfg.planning.model})"
        )
    step = c.loop.state.env_steps
    err, ends = measure_model(model, cfg, step)
    out: dict[str, Any] = {"run_dir": str(d), "checkpoint": str(latest), "env_steps": step}
    if err is not None:
        out.update(frame_error=err[0].round(6).tolist(), reward_error=err[1].round(6).tolist())
    if ends is not None:
        out.update(zip(TERMINATION_ERROR_COLUMNS[1:], ends, strict=True))
        path = d / "termination_error.csv"
        if not path.is_file() or all(int(r["env_steps"]) != step for r in read_csv(path)):
            log = CsvLog(path, TERMINATION_ERROR_COLUMNS, resume_step=2**62)  # keeps every row
            log.write(dict(zip(TERMINATION_ERROR_COLUMNS, (step, *ends), strict=True)))
            log.close()
    return out
