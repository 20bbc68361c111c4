"""A linear-Gaussian model fit by least squares: the lecture's simplest statistical model.

Per action a, Δs and r are affine in s with Gaussian noise: [Δs, r] = W_a [1, s] + ε, fit by ridge
least squares on every training transition at each refit. The predictive variance is that of
Bayesian linear regression, σ²(1 + φᵀ(ΦᵀΦ + λI)⁻¹φ). An affine map cannot represent a terminal
region, so termination is a logistic regression on quadratic features of s' (fit by Newton's
method on the real s'), applied to the predicted s̃'.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dynaworld.models.vector import VectorModel, common_args
from dynaworld.registry import ModelContext

DONE_RIDGE = 1e-2  # L2 penalty of the termination classifier (keeps separable data finite)


def quadratic(s: torch.Tensor) -> torch.Tensor:
    """[1, s, s_i s_j (i ≤ j)]."""
    i, j = torch.triu_indices(s.shape[-1], s.shape[-1])
    one = torch.ones(*s.shape[:-1], 1, dtype=s.dtype, device=s.device)
    return torch.cat([one, s, s[..., i] * s[..., j]], -1)


class LinearModel(VectorModel):
    minibatch = False

    def __init__(self, *args: Any, ridge: float = 1e-3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ridge = ridge
        f = self.n_actions * (self.obs_dim + 1)
        dtype = torch.float64
        self.W = torch.zeros(f, self.obs_dim + 1, dtype=dtype, device=self.device)
        self.G_inv = torch.eye(f, dtype=dtype, device=self.device)
        self.noise = torch.ones(self.obs_dim + 1, dtype=dtype, device=self.device)
        q = quadratic(torch.zeros(1, self.obs_dim)).shape[-1]
        self.w_done = torch.zeros(q, dtype=dtype, device=self.device)
        self.w_done[0] = -10.0  # no termination until one is seen

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """φ(s, a) = onehot(a) ⊗ [1, s]: a separate affine map per action."""
        s, a = x[:, : self.obs_dim], x[:, self.obs_dim :]
        one = torch.ones(len(x), 1, dtype=x.dtype, device=x.device)
        return (a[:, :, None] * torch.cat([one, s], 1)[:, None, :]).flatten(1)

    def fit(self, pool: np.ndarray) -> None:
        x, y = (t.double() for t in self.batch(pool))
        phi, Y = self.features(x), y[:, : self.obs_dim + 1]
        G = phi.T @ phi + self.ridge * torch.eye(phi.shape[1], dtype=phi.dtype, device=phi.device)
        self.G_inv = torch.linalg.inv(G)
        self.W = self.G_inv @ (phi.T @ Y)
        resid = Y - phi @ self.W
        self.noise = (resid**2).mean(0).clamp_min(1e-8)
        self.last_loss = float(self.noise.mean())
        obs, _, _, nxt, done = self.arrays(pool)
        s2 = torch.from_numpy((nxt - self.norm["obs_mean"]) / self.norm["obs_std"]).double()
        self.w_done = logistic_regression(
            quadratic(s2.to(self.device)), torch.from_numpy(done).double().to(self.device)
        )

    def forward(
        self, x: torch.Tensor, var: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x.double()
        phi = self.features(x)
        m = phi @ self.W  # normalised Δs, r
        n = {k: torch.from_numpy(v).double().to(self.device) for k, v in self.norm.items()}
        delta = m[:, : self.obs_dim] * n["delta_std"] + n["delta_mean"]
        s2 = x[:, : self.obs_dim] + delta / n["obs_std"]  # predicted s' (normalised)
        p_done = torch.sigmoid(quadratic(s2) @ self.w_done)
        mean = torch.cat([m, p_done[:, None]], 1).float()
        if not var:
            return mean, None
        lev = ((phi @ self.G_inv) * phi).sum(1, keepdim=True)
        return mean, (self.noise * (1.0 + lev)).float()

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "W": self.W,
            "G_inv": self.G_inv,
            "noise": self.noise,
            "w_done": self.w_done,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        super().load_state_dict(d)
        for k in ("W", "G_inv", "noise", "w_done"):
            setattr(self, k, d[k].to(self.device))


def logistic_regression(X: torch.Tensor, y: torch.Tensor, iters: int = 30) -> torch.Tensor:
    """L2-penalised logistic regression by Newton's method (IRLS)."""
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    eye = DONE_RIDGE * torch.eye(X.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(iters):
        p = torch.sigmoid(X @ w)
        grad = X.T @ (p - y) + DONE_RIDGE * w
        H = (X * (p * (1 - p))[:, None]).T @ X + eye
        step = torch.linalg.solve(H, grad)
        w = w - step
        if float(step.abs().max()) < 1e-6:
            break
    return w


def from_context(ctx: ModelContext) -> LinearModel:
    return LinearModel(**common_args(ctx), ridge=ctx.cfg.model.ridge)
