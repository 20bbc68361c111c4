"""C: the World Models controller, a = tanh(W_c x + b_c), for a whole population at once.

Parameters are flat vectors (what CMA-ES searches). ``act`` takes a (P, n) batch of candidates and
their (P, B, in) inputs, so a CMA-ES generation's rollouts (population x rollouts) are one
``baddbmm``. Output heads: 'car' (steer = x0, gas = (x1 + 1) / 2, brake = clip(x2, 0, 1)) and
'discrete3' (one output in three bands, the reference's mapping: < -1/3 left, > 1/3 right, else
stay; ``bands`` names the env's action for each band, so a zero C stays, as the reference's does).
"""

from __future__ import annotations

import math

import torch

HEADS = {"car": 3, "discrete3": 1}


class Controller:
    def __init__(
        self, in_dim: int, head: str = "car", hidden: int = 0, bands: tuple[int, ...] = (0, 1, 2)
    ) -> None:
        """``bands``: 'discrete3's env actions for outputs below -1/3, between, and above 1/3."""
        if head not in HEADS:
            raise ValueError(f"controller head must be one of {sorted(HEADS)}, got {head!r}")
        self.in_dim, self.head, self.hidden = in_dim, head, hidden
        self.bands = torch.tensor(bands, dtype=torch.long)
        self.out_dim = HEADS[head]
        if hidden:
            self.shapes = [(hidden, in_dim), (hidden,), (self.out_dim, hidden), (self.out_dim,)]
        else:
            self.shapes = [(self.out_dim, in_dim), (self.out_dim,)]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.n_params = sum(self.sizes)

    def _unpack(self, params: torch.Tensor) -> list[torch.Tensor]:
        out, i = [], 0
        for s, n in zip(self.shapes, self.sizes, strict=True):
            out.append(params[:, i : i + n].reshape(params.shape[0], *s))
            i += n
        return out

    def output(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """params (P, n), x (P, B, in) -> tanh outputs (P, B, out)."""
        p = self._unpack(params)
        if self.hidden:
            x = torch.tanh(torch.baddbmm(p[1][:, None], x, p[0].transpose(1, 2)))
            p = p[2:]
        return torch.tanh(torch.baddbmm(p[1][:, None], x, p[0].transpose(1, 2)))

    def act(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Env actions: 'car' (P, B, 3) floats, 'discrete3' (P, B) env action indices (bands)."""
        y = self.output(params, x)
        if self.head == "car":
            return torch.stack([y[..., 0], (y[..., 1] + 1) / 2, y[..., 2].clamp(0, 1)], dim=-1)
        band = (y[..., 0] > -1 / 3).long() + (y[..., 0] > 1 / 3).long()
        return self.bands.to(band.device)[band]
