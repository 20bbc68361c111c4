"""The dream: M as the loop's model m, and as a batched environment (a learned model *is* one).

``DreamModel`` is World Models' M behind the loop's contract, ``step(Query) -> Prediction``: the
query's ``obs`` is z, its ``state`` M's (h, c), its ``action`` the env's actions; the answer's
``next_obs`` is z' drawn at temperature tau. Every dream runs on ``models.model_env.ModelEnv``
over it, the same rollout code as Dyna's n×k planning:

* ``DreamEnv`` is a Gymnasium ``VectorEnv`` (1.x conventions): ``num_envs`` dreams advance
  together, each starting from the encoded first frame of a real rollout. Its observation is what
  C sees ([z, h], [z, c, h] or z); its action space is the real env's (CarRacing's
  Box([-1, 0, 0], [1, 1, 1]), Doom's Discrete(3)); a finished dream restarts in the same step,
  with ``final_obs`` and ``final_info`` (its ``episode`` return and length) in ``info``.
* ``dream_scores`` / ``dream_returns`` are the fast path CMA-ES uses: a whole generation
  (population x rollouts) as one batch on the chosen device, no numpy in the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dynaworld.agents.controller import Controller
from dynaworld.models.mdnrnn import MDNRNN, action_vector, features
from dynaworld.models.model_env import ModelEnv
from dynaworld.types import Prediction, Query, Transition


class DreamModel:
    """m = M: (z, a, (h, c)) -> (z', r, done, (h', c')) for a batch, at temperature tau.

    ``reward``: 'head' (M's reward head) or 'survival' (+1 per step alive, Doom's score).
    ``done``: 'threshold' (p > 0.5), 'sample' (Bernoulli p) or 'never'. Box actions outside
    ``action_space`` are clipped to it; a Discrete action outside it is an error."""

    def __init__(
        self,
        m: MDNRNN,
        action_space: gym.Space[Any],
        *,
        temperature: float = 1.0,
        reward: str = "head",
        done: str = "threshold",
        generator: torch.Generator | None = None,
    ) -> None:
        if reward == "head" and m.reward is None:
            raise ValueError("DreamEnv(reward='head') needs an M trained with a reward head")
        if done != "never" and m.done is None:
            raise ValueError(f"DreamEnv(done={done!r}) needs an M trained with a done head")
        self.m, self.action_space, self.temperature = m, action_space, temperature
        self.reward_mode, self.done_mode, self.generator = reward, done, generator

    def update(self, transition: Transition) -> None:
        """Nothing per transition: M is fitted on whole rollouts in the population loop's
        UPDATEMODEL step (``worldmodels.fit.train_m``)."""

    @torch.no_grad()
    def step(self, query: Query[torch.Tensor]) -> Prediction[torch.Tensor]:
        z, action, state = query.obs, query.action, query.state
        heads, state = self.m.step(z, action_vector(action, self.action_space), state)
        nxt = MDNRNN.sample(heads, self.temperature, self.generator)
        n, dev = z.shape[0], z.device
        reward = heads["reward"] if self.reward_mode == "head" else torch.ones(n, device=dev)
        if self.done_mode == "never":
            done = torch.zeros(n, dtype=torch.bool, device=dev)
        else:
            p = torch.sigmoid(heads["done_logit"])
            if self.done_mode == "sample":
                done = torch.rand(n, device=dev, generator=self.generator) < p
            else:
                done = p > 0.5
        ones = torch.ones(n, dtype=torch.long, device=dev)
        return Prediction(reward, nxt, done, ones, state=state)


class DreamEnv(gym.vector.VectorEnv):
    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(
        self,
        m: MDNRNN,
        starts: np.ndarray | torch.Tensor,
        num_envs: int = 1,
        *,
        temperature: float = 1.0,
        observe: str = "zh",
        reward: str = "head",
        done: str = "threshold",
        max_steps: int = 1000,
        action_space: gym.Space[Any] | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> None:
        """``starts``: (S, 2, Z) mu and logvar of real first frames; ``reward``, ``done`` and
        ``temperature``: see ``DreamModel``. ``action_space``: the real env's (one env's);
        default Box(-1, 1) of M's action width."""
        self.m = m.to(device).eval()
        self.device = torch.device(device)
        self.starts = torch.as_tensor(np.asarray(starts), dtype=torch.float32, device=self.device)
        self.num_envs, self.observe, self.max_steps = num_envs, observe, max_steps
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        width = {"z": m.z_dim, "zh": m.z_dim + m.hidden, "zch": m.z_dim + 2 * m.hidden}[observe]
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (width,), np.float32)
        self.single_action_space: gym.Space[Any] = action_space or gym.spaces.Box(
            -1.0, 1.0, (m.action_dim,), np.float32
        )
        width = (
            int(self.single_action_space.n)
            if isinstance(self.single_action_space, gym.spaces.Discrete)
            else int(np.prod(self.single_action_space.shape or (0,)))
        )
        if width != m.action_dim:
            raise ValueError(f"action space {self.single_action_space} is not M's {m.action_dim}")
        self.model = DreamModel(
            self.m,
            self.single_action_space,
            temperature=temperature,
            reward=reward,
            done=done,
            generator=self.generator,
        )
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.dreams = self.rollouts(num_envs, autoreset=True, max_steps=max_steps)
        self.dreams.restart()  # the first dreams are drawn at construction
        self._return = torch.zeros(num_envs, device=self.device)

    @property
    def temperature(self) -> float:
        return self.model.temperature

    def start(self, n: int) -> Query:
        """n start states: z drawn from random real first frames, M's zero state."""
        idx = torch.randint(len(self.starts), (n,), device=self.device, generator=self.generator)
        mu, logvar = self.starts[idx, 0], self.starts[idx, 1]
        eps = torch.randn(mu.shape, device=self.device, generator=self.generator)
        z = mu + eps * (0.5 * logvar).exp()
        return Query(z, None, state=self.m.initial_state(n, self.device))

    def rollouts(self, n: int, *, autoreset: bool, max_steps: int) -> ModelEnv:
        """n dreams on the shared batched path (``autoreset=False``: finished ones leave)."""
        return ModelEnv(
            self.model,
            lambda mask: self.start(int(mask.sum())),
            n,
            autoreset=autoreset,
            max_steps=max_steps,
        )

    def observation(self, dreams: ModelEnv | None = None) -> torch.Tensor:
        """What C sees of the dreams still running."""
        d = dreams or self.dreams
        return features(d.obs, d.state, self.observe)

    # -- Gymnasium VectorEnv API -----------------------------------------------------------------
    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:  # one generator drives every dream: a list of seeds seeds it once
            seeds = [seed] if isinstance(seed, int) else [s for s in seed if s is not None]
            if seeds:
                self.generator.manual_seed(int(np.random.SeedSequence(seeds).generate_state(1)[0]))
        self.dreams.reset()
        self.dreams.restart()
        self._return.zero_()
        return self.observation().cpu().numpy(), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        _, p, ended = self.dreams.step(torch.as_tensor(np.asarray(actions), device=self.device))
        self._return += p.reward
        truncated = ended & ~p.done
        obs = self.observation()
        info: dict[str, Any] = {}
        if ended.any():  # same-step autoreset: finished dreams restart from fresh real start states
            mask = ended.cpu().numpy()
            info["final_obs"] = obs.cpu().numpy()
            info["_final_obs"] = mask
            t = self.dreams.t.cpu().numpy().copy()
            episode = {"r": self._return.cpu().numpy().copy(), "l": t}
            info["final_info"] = {"episode": {**episode, "_r": mask, "_l": mask}, "_episode": mask}
            info["_final_info"] = mask
            self._return[ended] = 0.0
            self.dreams.restart()
            obs = self.observation()
        return (
            obs.cpu().numpy(),
            p.reward.cpu().numpy(),
            p.done.cpu().numpy(),
            truncated.cpu().numpy(),
            info,
        )


@torch.no_grad()
def dream_scores(
    env: DreamEnv,
    act: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    n: int,
    max_steps: int,
) -> torch.Tensor:
    """Returns (n,) of n dreams advanced together (the batched path every dream score takes).

    ``act(obs, rows)`` maps the observations (N, W) of the dreams still running, whose indices
    are ``rows`` (N,), to env actions. A dream that ends leaves the batch, so a generation costs
    the dreams' summed length, not n times the longest."""
    dreams = env.rollouts(n, autoreset=False, max_steps=max_steps)
    dreams.restart()
    total = torch.zeros(n, device=env.device)
    while dreams.running:
        rows = dreams.rows
        _, p, _ = dreams.step(act(env.observation(dreams), rows))
        total[rows] += p.reward
    return total


@torch.no_grad()
def dream_returns(
    env: DreamEnv,
    controller: Controller,
    params: torch.Tensor,
    rollouts: int,
    max_steps: int,
    mean: bool = True,
) -> torch.Tensor:
    """Mean dream return of each candidate (P,) over ``rollouts`` dreams (``mean=False``: every
    return, (P, rollouts)), computed as one batch of P x rollouts dreams; dream i belongs to
    candidate i // rollouts."""
    P = params.shape[0]

    def act(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return controller.act(params[rows // rollouts], x[:, None])[:, 0]

    returns = dream_scores(env, act, P * rollouts, max_steps).view(P, rollouts)
    return returns.mean(dim=1) if mean else returns
