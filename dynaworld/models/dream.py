"""The dream: M as a batched environment (a learned model *is* an environment).

``DreamEnv`` is a Gymnasium ``VectorEnv`` (1.x conventions): ``num_envs`` dreams advance together,
each starting from the encoded first frame of a real rollout, with M's temperature. Its observation
is what C sees ([z, h], [z, c, h] or z); its action space is the real env's (CarRacing's
Box([-1, 0, 0], [1, 1, 1]), Doom's Discrete(3)); a finished dream restarts in the same step, with
``final_obs`` and ``final_info`` (its ``episode`` return and length) in ``info``. ``dream_returns`` is the fast path CMA-ES uses: a whole generation
(population x rollouts) as one tensor program on the chosen device, no numpy in the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dynaworld.agents.controller import Controller
from dynaworld.models.mdnrnn import MDNRNN, State, features


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
        """``starts``: (S, 2, Z) mu and logvar of real first frames. ``reward``: 'head' (M's reward
        head) or 'survival' (+1 per step alive, Doom's score). ``done``: 'threshold' (p > 0.5),
        'sample' (Bernoulli p) or 'never'. ``action_space``: the real env's (one env's); default
        Box(-1, 1) of M's action width. Box actions outside it are clipped to it, as the real
        envs' dynamics saturate; a Discrete action outside it is an error."""
        self.m = m.to(device).eval()
        self.device = torch.device(device)
        self.starts = torch.as_tensor(np.asarray(starts), dtype=torch.float32, device=self.device)
        self.num_envs, self.temperature, self.observe = num_envs, temperature, observe
        self.reward_mode, self.done_mode, self.max_steps = reward, done, max_steps
        if reward == "head" and m.reward is None:
            raise ValueError("DreamEnv(reward='head') needs an M trained with a reward head")
        if done != "never" and m.done is None:
            raise ValueError(f"DreamEnv(done={done!r}) needs an M trained with a done head")
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
        if isinstance(self.single_action_space, gym.spaces.Box):
            self._low = torch.as_tensor(self.single_action_space.low, device=self.device)
            self._high = torch.as_tensor(self.single_action_space.high, device=self.device)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._z, self._state = self.start(num_envs)
        self._t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._return = torch.zeros(num_envs, device=self.device)

    # -- the batched model step shared by every dream rollout ---------------------------------
    def start(self, n: int) -> tuple[torch.Tensor, State]:
        """n start states: z drawn from random real first frames, M's zero state."""
        idx = torch.randint(len(self.starts), (n,), device=self.device, generator=self.generator)
        mu, logvar = self.starts[idx, 0], self.starts[idx, 1]
        eps = torch.randn(mu.shape, device=self.device, generator=self.generator)
        return mu + eps * (0.5 * logvar).exp(), self.m.initial_state(n, self.device)

    @torch.no_grad()
    def advance(
        self, z: torch.Tensor, action: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State, torch.Tensor, torch.Tensor]:
        """(z, action vector, state) -> (z', state', reward, done) for a whole batch."""
        heads, state = self.m.step(z, action, state)
        z = MDNRNN.sample(heads, self.temperature, self.generator)
        n = z.shape[0]
        if self.reward_mode == "head":
            reward = heads["reward"]
        else:
            reward = torch.ones(n, device=self.device)
        if self.done_mode == "never":
            done = torch.zeros(n, dtype=torch.bool, device=self.device)
        else:
            p = torch.sigmoid(heads["done_logit"])
            if self.done_mode == "sample":
                done = torch.rand(n, device=self.device, generator=self.generator) < p
            else:
                done = p > 0.5
        return z, state, reward, done

    def observation(self, z: torch.Tensor, state: State) -> torch.Tensor:
        return features(z, state, self.observe)

    def action_vector(self, actions: torch.Tensor) -> torch.Tensor:
        """What M is conditioned on: one-hot Discrete actions, Box actions clipped to the space."""
        space = self.single_action_space
        if isinstance(space, gym.spaces.Discrete):
            a = actions.long() - int(space.start)
            if bool(((a < 0) | (a >= space.n)).any()):
                raise ValueError(f"actions {actions.tolist()} are not all in {space}")
            return torch.nn.functional.one_hot(a, self.m.action_dim).float()
        return torch.maximum(torch.minimum(actions.float(), self._high), self._low)

    # -- Gymnasium VectorEnv API -----------------------------------------------------------------
    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is not None:  # one generator drives every dream: a list of seeds seeds it once
            seeds = [seed] if isinstance(seed, int) else [s for s in seed if s is not None]
            if seeds:
                self.generator.manual_seed(int(np.random.SeedSequence(seeds).generate_state(1)[0]))
        self._z, self._state = self.start(self.num_envs)
        self._t.zero_()
        self._return.zero_()
        return self.observation(self._z, self._state).cpu().numpy(), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        a = self.action_vector(torch.as_tensor(np.asarray(actions), device=self.device))
        self._z, self._state, reward, done = self.advance(self._z, a, self._state)
        self._t += 1
        self._return += reward
        truncated = (self._t >= self.max_steps) & ~done
        obs = self.observation(self._z, self._state)
        info: dict[str, Any] = {}
        ended = done | truncated
        if ended.any():  # same-step autoreset: finished dreams restart from fresh real start states
            mask = ended.cpu().numpy()
            info["final_obs"] = obs.cpu().numpy()
            info["_final_obs"] = mask
            episode = {"r": self._return.cpu().numpy().copy(), "l": self._t.cpu().numpy().copy()}
            info["final_info"] = {"episode": {**episode, "_r": mask, "_l": mask}, "_episode": mask}
            info["_final_info"] = mask
            self._return[ended] = 0.0
            z0, s0 = self.start(int(ended.sum()))
            self._z[ended] = z0
            self._state[0][0, ended] = s0[0][0]
            self._state[1][0, ended] = s0[1][0]
            self._t[ended] = 0
            obs = self.observation(self._z, self._state)
        return (
            obs.cpu().numpy(),
            reward.cpu().numpy(),
            done.cpu().numpy(),
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
    z, state = env.start(n)
    rows = torch.arange(n, device=env.device)
    total = torch.zeros(n, device=env.device)
    for _ in range(max_steps):
        a = act(env.observation(z, state), rows)
        z, state, reward, done = env.advance(z, env.action_vector(a), state)
        total[rows] += reward
        if bool(done.any()):
            keep = ~done
            if not bool(keep.any()):
                break
            rows, z, state = rows[keep], z[keep], (state[0][:, keep], state[1][:, keep])
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
