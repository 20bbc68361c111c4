"""An ensemble of probabilistic MLPs (Chua et al. 2018, PETS): disagreement as uncertainty.

Each of E members maps [normalised s, onehot(a)] to a Gaussian over [Δs, r] (mean and bounded
log-variance) and a termination logit; it trains on its own minibatches (BCE and the β-NLL of
Seitzer et al. 2022 with β = 0.5: the Gaussian NLL weighted by the detached variance^β, which
fits the mean far faster than the plain NLL).
The members are computed together as batched matrix products. A prediction is the members' mean;
``disagreement`` (the variance of the members' means of s') is their epistemic uncertainty, and
``predictive`` adds it to the members' mean aleatoric variance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dynaworld.models.vector import NetworkModel, common_args
from dynaworld.registry import ModelContext

BETA = 0.5  # β-NLL exponent (0: the Gaussian NLL, 1: about the squared error)


class EnsembleLinear(nn.Module):
    """E independent linear layers: (E, B, n_in) → (E, B, n_out)."""

    def __init__(self, members: int, n_in: int, n_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleNet(nn.Module):
    def __init__(self, members: int, n_in: int, n_gauss: int, hidden: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [EnsembleLinear(members, n_in, h), nn.SiLU()]
            n_in = h
        self.body = nn.Sequential(*layers)
        self.head = EnsembleLinear(members, n_in, 2 * n_gauss + 1)
        self.n_gauss = n_gauss
        self.max_logvar = nn.Parameter(torch.full((n_gauss,), 0.5))
        self.min_logvar = nn.Parameter(torch.full((n_gauss,), -10.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(E, B, n_in) → mean, log-variance (E, B, n_gauss) and termination logit (E, B)."""
        out = self.head(self.body(x))
        g = self.n_gauss
        logvar = self.max_logvar - F.softplus(self.max_logvar - out[..., g : 2 * g])
        logvar = self.min_logvar + F.softplus(logvar - self.min_logvar)
        return out[..., :g], logvar, out[..., 2 * g]


class EnsembleModel(NetworkModel):
    net: EnsembleNet

    def __init__(
        self,
        *args: Any,
        members: int = 5,
        hidden: list[int] | None = None,
        lr: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.members = members
        self.net = EnsembleNet(members, self.n_in, self.obs_dim + 1, hidden or [200, 200])
        self.net.to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)

    def train_batch(self, idx: np.ndarray) -> float:
        # each member draws its own minibatch
        idx = np.concatenate([idx, self.training_indices(len(idx) * (self.members - 1))])
        x, y = self.batch(idx)
        x, y = x.view(self.members, -1, self.n_in), y.view(self.members, -1, self.n_out)
        mean, logvar, done = self.net(x)
        g = self.obs_dim + 1
        weight = torch.exp(BETA * logvar.detach())
        nll = (weight * (((mean - y[..., :g]) ** 2) * torch.exp(-logvar) + logvar)).mean()
        bce = F.binary_cross_entropy_with_logits(done, y[..., g])
        bounds = 0.01 * (self.net.max_logvar.sum() - self.net.min_logvar.sum())
        loss = nll + bce + bounds
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def members_forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net(x.expand(self.members, *x.shape))

    def forward(
        self, x: torch.Tensor, var: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        mean, logvar, done = self.members_forward(x)
        m = torch.cat([mean.mean(0), torch.sigmoid(done).mean(0)[:, None]], 1)
        if not var:
            return m, None
        return m, mean.var(0, unbiased=False) + logvar.exp().mean(0)

    @torch.no_grad()
    def disagreement(self, obs: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Variance of the members' predicted s' (normalised units), averaged over dimensions."""
        mean = self.members_forward(self.inputs(obs, action))[0][..., : self.obs_dim]
        return mean.var(0, unbiased=False).mean(1).cpu().numpy()


def from_context(ctx: ModelContext) -> EnsembleModel:
    mc = ctx.cfg.model
    return EnsembleModel(
        **common_args(ctx), members=mc.ensemble_size, hidden=mc.mlp_hidden, lr=mc.lr
    )
