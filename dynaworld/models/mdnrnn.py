"""M: the MDN-RNN of World Models, P(z', r, d | a, z, h) with a temperature.

An LSTM over [z_t, a_t]; per z dimension a mixture of ``gaussians`` 1-D Gaussians for z_{t+1};
optional reward and termination heads. Temperature tau divides the mixture logits and scales the
Gaussian noise by sqrt(tau) (tau < 1: a calmer, more predictable dream; tau > 1: a wilder one).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import torch
from torch import nn
from torch.nn import functional as F

State = tuple[torch.Tensor, torch.Tensor]  # the LSTM's (h, c), each (N, hidden): batch first
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class MDNRNN(nn.Module):
    def __init__(
        self,
        z_dim: int,
        action_dim: int,
        hidden: int = 256,
        gaussians: int = 5,
        reward_head: bool = False,
        done_head: bool = False,
    ) -> None:
        super().__init__()
        self.z_dim, self.action_dim, self.hidden, self.gaussians = (
            z_dim,
            action_dim,
            hidden,
            gaussians,
        )
        self.lstm = nn.LSTM(z_dim + action_dim, hidden, batch_first=True)
        self.mdn = nn.Linear(hidden, 3 * gaussians * z_dim)
        self.reward = nn.Linear(hidden, 1) if reward_head else None
        self.done = nn.Linear(hidden, 1) if done_head else None

    def initial_state(self, n: int, device: torch.device | str = "cpu") -> State:
        zeros = torch.zeros(n, self.hidden, device=device)
        return zeros, zeros.clone()

    def forward(
        self, z: torch.Tensor, a: torch.Tensor, state: State | None = None
    ) -> tuple[dict[str, torch.Tensor], State]:
        """z (B, L, Z), a (B, L, A) -> mixture params (B, L, Z, G) and heads (B, L), new state
        (here in nn.LSTM's layout, (1, B, H) each; ``step`` is the batch-first view)."""
        out, state = self.lstm(torch.cat([z, a], dim=-1), state)
        B, L, _ = out.shape
        logpi, mu, logsigma = self.mdn(out).view(B, L, 3, self.z_dim, self.gaussians).unbind(2)
        heads = {"logpi": F.log_softmax(logpi, dim=-1), "mu": mu, "logsigma": logsigma, "h": out}
        if self.reward is not None:
            heads["reward"] = self.reward(out).squeeze(-1)
        if self.done is not None:
            heads["done_logit"] = self.done(out).squeeze(-1)
        return heads, state

    def loss(
        self, batch: dict[str, torch.Tensor], done_weight: float = 10.0
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Masked NLL of z_{t+1} (z sampled from the stored mu, logvar) + reward MSE + weighted BCE."""
        z = batch["mu"] + torch.randn_like(batch["mu"]) * (0.5 * batch["logvar"]).exp()
        heads, _ = self(z[:, :-1], batch["actions"])
        target = z[:, 1:].unsqueeze(-1)
        log_n = (
            -0.5 * ((target - heads["mu"]) / heads["logsigma"].exp()).pow(2)
            - heads["logsigma"]
            - LOG_SQRT_2PI
        )
        nll = -torch.logsumexp(heads["logpi"] + log_n, dim=-1).mean(-1)  # (B, L)
        mask = batch["mask"]
        denom = mask.sum().clamp(min=1.0)
        z_loss = (nll * mask).sum() / denom
        loss, parts = z_loss, {"z_nll": z_loss.item()}
        if self.reward is not None:
            r = ((heads["reward"] - batch["rewards"]).pow(2) * mask).sum() / denom
            loss = loss + r
            parts["reward_mse"] = r.item()
        if self.done is not None:
            d = F.binary_cross_entropy_with_logits(
                heads["done_logit"], batch["terminated"], reduction="none"
            )
            d = (d * mask).sum() / denom
            loss = loss + done_weight * d
            parts["done_bce"] = d.item()
        parts["loss"] = loss.item()
        return loss, parts

    @torch.no_grad()
    def step(
        self, z: torch.Tensor, a: torch.Tensor, state: State
    ) -> tuple[dict[str, torch.Tensor], State]:
        """One batched step: z (N, Z), a (N, A) -> heads for step t+1 (N, ...) and the new state."""
        heads, (h, c) = self(z[:, None], a[:, None], (state[0][None], state[1][None]))
        return {k: v[:, 0] for k, v in heads.items()}, (h[0], c[0])

    @torch.no_grad()
    def next_state(self, z: torch.Tensor, a: torch.Tensor, state: State) -> State:
        """Only the recurrent state after (z, a): what C needs when acting in the real env."""
        _, (h, c) = self.lstm(torch.cat([z, a], dim=-1)[:, None], (state[0][None], state[1][None]))
        return h[0], c[0]

    @staticmethod
    def sample(
        heads: dict[str, torch.Tensor], temperature: float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw z_{t+1} (N, Z) from the mixture at temperature tau."""
        logits = heads["logpi"] / temperature
        u = torch.rand(logits.shape, device=logits.device, generator=generator)
        k = (logits - torch.log(-torch.log(u.clamp_min(1e-20)))).argmax(
            -1, keepdim=True
        )  # Gumbel-max
        mu = heads["mu"].gather(-1, k).squeeze(-1)
        sigma = heads["logsigma"].gather(-1, k).squeeze(-1).exp()
        eps = torch.randn(mu.shape, device=mu.device, generator=generator)
        return mu + eps * sigma * math.sqrt(temperature)


def action_vector(actions: torch.Tensor, space: gym.Space[Any]) -> torch.Tensor:
    """Env actions (N,) or (N, A) -> what M is conditioned on (N, A): one-hot Discrete actions,
    Box actions clipped to the space (the real envs' dynamics saturate). The one place this is
    built, for the dream and for the real env alike."""
    if isinstance(space, gym.spaces.Discrete):
        a = actions.long() - int(space.start)
        if bool(((a < 0) | (a >= space.n)).any()):
            raise ValueError(f"actions {actions.tolist()} are not all in {space}")
        return F.one_hot(a, int(space.n)).float()
    assert isinstance(space, gym.spaces.Box)
    low = torch.as_tensor(space.low, device=actions.device)
    high = torch.as_tensor(space.high, device=actions.device)
    return torch.maximum(torch.minimum(actions.float(), high), low)


def features(z: torch.Tensor, state: State, kind: str) -> torch.Tensor:
    """What C sees: 'z', 'zh' ([z, h], CarRacing) or 'zch' ([z, c, h], Doom)."""
    h, c = state
    if kind == "z":
        return z
    if kind == "zh":
        return torch.cat([z, h], dim=-1)
    return torch.cat([z, c, h], dim=-1)
