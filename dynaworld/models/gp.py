"""Gaussian-process models (GPyTorch): one independent GP per output [Δs, r, done], batched.

Each output has its own constant mean and ARD RBF kernel (scaled) and Gaussian noise; an input
is [normalised s, onehot(a)]. Both give a predictive mean and variance (``predictive``).

* ``ExactGPModel`` (``gp``): an exact GP on ``points`` training transitions (the terminal ones and
  a uniform sample of the rest), refit every ``refit_every`` real steps (``iters`` Adam steps on
  the marginal likelihood, warm-started).
* ``SparseGPModel`` (``sparse_gp``): a variational GP with ``inducing`` learned inducing points
  (Hensman et al. 2013), trained on minibatches of all the training data at ``updates_per_step``;
  a step costs O(B·M² + M³) whatever the amount of data.
"""

from __future__ import annotations

from typing import Any

import gpytorch
import numpy as np
import torch
from linear_operator.utils.errors import NotPSDError

from dynaworld.models.vector import VectorModel, common_args
from dynaworld.registry import ModelContext


def _kernel(n_in: int, batch: torch.Size) -> gpytorch.kernels.Kernel:
    rbf = gpytorch.kernels.RBFKernel(ard_num_dims=n_in, batch_shape=batch)
    return gpytorch.kernels.ScaleKernel(rbf, batch_shape=batch)


def _likelihood(n_out: int) -> gpytorch.likelihoods.GaussianLikelihood:
    return gpytorch.likelihoods.GaussianLikelihood(
        batch_shape=torch.Size([n_out]), noise_constraint=gpytorch.constraints.GreaterThan(1e-4)
    )


# Jitter up to 1e-6 · 10^5 before a Cholesky gives up (gpytorch's default stops at 1e-4).
CHOLESKY_TRIES = gpytorch.settings.cholesky_max_tries(6)


class _ExactGP(gpytorch.models.ExactGP):
    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, likelihood: gpytorch.likelihoods.Likelihood
    ) -> None:
        super().__init__(x, y, likelihood)
        batch = torch.Size([y.shape[0]])
        self.mean_module = gpytorch.means.ConstantMean(batch_shape=batch)
        self.covar_module = _kernel(x.shape[-1], batch)

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


class _SVGP(gpytorch.models.ApproximateGP):
    def __init__(self, inducing: torch.Tensor) -> None:
        batch = torch.Size([inducing.shape[0]])
        dist = gpytorch.variational.CholeskyVariationalDistribution(
            inducing.shape[1], batch_shape=batch
        )
        strategy = gpytorch.variational.VariationalStrategy(
            self, inducing, dist, learn_inducing_locations=True
        )
        super().__init__(strategy)
        self.mean_module = gpytorch.means.ConstantMean(batch_shape=batch)
        self.covar_module = _kernel(inducing.shape[-1], batch)

    def forward(self, x: torch.Tensor) -> gpytorch.distributions.MultivariateNormal:
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


class _GPBase(VectorModel):
    gp: Any = None
    likelihood: Any = None

    def _untrained(self, x: torch.Tensor, var: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        mean = torch.zeros(len(x), self.n_out, device=self.device)
        return mean, torch.ones(len(x), self.obs_dim + 1, device=self.device) if var else None

    def forward(
        self, x: torch.Tensor, var: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.gp is None:
            return self._untrained(x, var)
        self.gp.eval()
        self.likelihood.eval()
        with gpytorch.settings.fast_pred_var(), CHOLESKY_TRIES:
            f = self.gp(x.expand(self.n_out, *x.shape))  # a batch of n_out GPs over the B inputs
            mean = f.mean.T
            if not var:
                return mean, None
            return mean, self.likelihood(f).variance.T[:, : self.obs_dim + 1]


class ExactGPModel(_GPBase):
    minibatch = False

    def __init__(
        self, *args: Any, points: int = 500, iters: int = 30, lr: float = 0.05, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.points, self.iters, self.lr = points, iters, lr

    def _build(self, x: torch.Tensor, y: torch.Tensor) -> None:
        X, Y = x.expand(self.n_out, *x.shape), y.T.contiguous()
        if self.gp is None:
            self.gp = _ExactGP(X, Y, _likelihood(self.n_out)).to(self.device)
            self.likelihood = self.gp.likelihood
        else:
            self.gp.set_train_data(X, Y, strict=False)

    def conditioning_set(self, pool: np.ndarray) -> np.ndarray:
        """The ≤ ``points`` transitions the GP conditions on: the terminal ones (newest, up to
        half) and a uniform sample of the rest. The newest N alone forget rare events: a good
        CartPole agent's last 500 steps hold no failure, and the GP then predicts none."""
        if len(pool) <= self.points:
            return pool
        done = self.buffer.dones[pool % self.buffer.capacity].astype(bool)
        term = pool[done][-(self.points // 2) :]
        rest = self.rng.choice(pool[~done], self.points - len(term), replace=False)
        return np.sort(np.concatenate([term, rest]))

    def fit(self, pool: np.ndarray) -> None:
        self._build(*self.batch(self.conditioning_set(pool)))
        if not self.iters:
            return
        gp = self.gp
        gp.train()
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(gp.likelihood, gp)
        opt = torch.optim.Adam(gp.parameters(), lr=self.lr)
        X, Y = gp.train_inputs[0], gp.train_targets
        good = {k: v.detach().clone() for k, v in gp.state_dict().items()}
        for _ in range(self.iters):
            opt.zero_grad(set_to_none=True)
            try:
                with CHOLESKY_TRIES:
                    loss = -mll(gp(X), Y).sum()
            except NotPSDError:
                # float32 Cholesky of a near-singular kernel (many near-duplicate states, tiny
                # noise): go back to the last hyperparameters whose likelihood was computed.
                gp.load_state_dict(good)
                break
            good = {k: v.detach().clone() for k, v in gp.state_dict().items()}
            loss.backward()
            opt.step()
            self.last_loss = float(loss.detach())
        gp.eval()

    def state_dict(self) -> dict[str, Any]:
        out = super().state_dict()
        if self.gp is not None:
            out.update(
                gp=self.gp.state_dict(),
                x=self.gp.train_inputs[0][0].detach().clone(),
                y=self.gp.train_targets.T.detach().clone(),
            )
        return out

    def load_state_dict(self, d: dict[str, Any]) -> None:
        super().load_state_dict(d)
        if "gp" in d:
            self._build(d["x"].to(self.device), d["y"].to(self.device))
            self.gp.load_state_dict(d["gp"])
            self.gp.eval()


class SparseGPModel(_GPBase):
    def __init__(self, *args: Any, inducing: int = 128, lr: float = 0.05, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inducing, self.lr = inducing, lr
        self.optimizer: torch.optim.Optimizer | None = None

    def _build(self, inducing: torch.Tensor) -> None:
        self.gp = _SVGP(inducing).to(self.device)
        self.likelihood = _likelihood(self.n_out).to(self.device)
        params = [*self.gp.parameters(), *self.likelihood.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=self.lr)

    def fit(self, pool: np.ndarray) -> None:
        if self.gp is None:  # inducing points start at random training inputs
            idx = self.rng.choice(pool, size=min(self.inducing, len(pool)), replace=False)
            x = self.batch(np.sort(idx))[0]
            self._build(x.expand(self.n_out, *x.shape).clone())

    def train_batch(self, idx: np.ndarray) -> float:
        assert self.optimizer is not None
        x, y = self.batch(idx)
        self.gp.train()
        self.likelihood.train()
        elbo = gpytorch.mlls.VariationalELBO(self.likelihood, self.gp, num_data=self.n_train)
        loss = -elbo(self.gp(x.expand(self.n_out, *x.shape)), y.T).sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def state_dict(self) -> dict[str, Any]:
        out = super().state_dict()
        if self.gp is not None:
            assert self.optimizer is not None
            out.update(
                gp=self.gp.state_dict(),
                likelihood=self.likelihood.state_dict(),
                optimizer=self.optimizer.state_dict(),
                inducing_shape=list(self.gp.variational_strategy.inducing_points.shape),
            )
        return out

    def load_state_dict(self, d: dict[str, Any]) -> None:
        super().load_state_dict(d)
        if "gp" in d:
            self._build(torch.zeros(*d["inducing_shape"], device=self.device))
            self.gp.load_state_dict(d["gp"])
            self.likelihood.load_state_dict(d["likelihood"])
            assert self.optimizer is not None
            self.optimizer.load_state_dict(d["optimizer"])


def exact(ctx: ModelContext) -> ExactGPModel:
    mc = ctx.cfg.model
    return ExactGPModel(**common_args(ctx), points=mc.gp_points, iters=mc.gp_iters, lr=mc.gp_lr)


def sparse(ctx: ModelContext) -> SparseGPModel:
    mc = ctx.cfg.model
    return SparseGPModel(**common_args(ctx), inducing=mc.inducing_points, lr=mc.gp_lr)
