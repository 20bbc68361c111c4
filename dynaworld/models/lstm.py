"""A recurrent (LSTM) model for partially observed tasks: it predicts from history, not from s alone.

Inputs per step are [normalised o_t, onehot(a_t)]; from the hidden state the head predicts
[Δo, r] (normalised, MSE) and a termination logit (BCE). History is handled like this:

* training: windows of the last H = ``history`` steps of an episode (left-padded with zeros
  before the episode's start, padded steps carry no loss), teacher-forced, every step predicted;
* a rollout from a replay state (the query's ``key``) first runs the LSTM over the H − 1 real
  steps before it (observations and actions stored in replay), exactly as in training;
* a rollout carries the hidden state (h, c) in the Query/Prediction ``state``, so the next
  call continues from it on the model's own predictions.

The agent stays a feed-forward DQN on the current observation: only the model has memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dynaworld.models.vector import NetworkModel, common_args
from dynaworld.registry import ModelContext


class LSTMNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, n_out))

    def forward(
        self, x: torch.Tensor, hc: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """(B, T, n_in) → outputs (B, T, n_out) and the final (h, c), each (1, B, hidden)."""
        h, hc = self.lstm(x, hc)
        return self.head(h), hc


class LSTMModel(NetworkModel):
    def __init__(
        self, *args: Any, hidden: int = 64, history: int = 8, lr: float = 1e-3, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.hidden, self.history = hidden, history
        self.net = LSTMNet(self.n_in, self.n_out, hidden).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)

    def window(self, idx: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``length`` steps of each episode ending at ``idx``: indices (B, L), validity
        (B, L; False before the episode's first stored step) and inputs' clamped indices."""
        b = self.buffer
        pos = idx[:, None] + np.arange(1 - length, 1)
        first = np.maximum(b.episode_start[idx % b.capacity], b.oldest)
        valid = pos >= first[:, None]
        return pos, valid, np.maximum(pos, first[:, None])

    def window_inputs(
        self, idx: np.ndarray, length: int
    ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """Inputs (B, L, n_in), zero before the episode's start; validity; clamped indices."""
        _, valid, p = self.window(idx, length)
        b = self.buffer
        obs = b.observations(p.ravel()).reshape(*p.shape, -1)
        x = self.inputs(obs, b.actions[p % b.capacity]) * self.tensor(valid)[..., None]
        return x, valid, p

    def train_batch(self, idx: np.ndarray) -> float:
        x, valid, p = self.window_inputs(idx, self.history)
        b = self.buffer
        flat = p.ravel()
        obs, nxt = b.observations(flat), b.observations(flat + 1)
        slots = flat % b.capacity
        y = self.targets(
            obs.astype(np.float32),
            b.rewards[slots],
            nxt.astype(np.float32),
            b.dones[slots].astype(np.float32),
        ).view(*p.shape, self.n_out)
        out, _ = self.net(x)
        mask = self.tensor(valid)
        g = self.obs_dim + 1
        mse = (((out[..., :g] - y[..., :g]) ** 2).mean(-1) * mask).sum()
        bce = (
            F.binary_cross_entropy_with_logits(out[..., g], y[..., g], reduction="none") * mask
        ).sum()
        loss = (mse + bce) / mask.sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 10.0)
        self.optimizer.step()
        return float(loss.detach())

    def predict_normalised(
        self, obs: np.ndarray, action: np.ndarray, key: np.ndarray | None, state: Any
    ) -> tuple[torch.Tensor, Any]:
        n = len(action)
        h = torch.zeros(1, n, self.hidden, device=self.device)
        c = torch.zeros(1, n, self.hidden, device=self.device)
        if state is not None:  # continuing rollouts: the hidden state of s̃
            hc = self.tensor(np.asarray(state, np.float32))
            h, c = hc[None, :, : self.hidden].clone(), hc[None, :, self.hidden :].clone()
        warm = np.zeros(n, bool) if key is None else np.asarray(key) >= 0
        if warm.any():  # fresh starts: run over the (up to H − 1) real steps before s̃
            assert key is not None
            rows = torch.from_numpy(np.flatnonzero(warm)).to(self.device)
            h[:, rows], c[:, rows] = 0.0, 0.0
            if self.history > 1:
                x, _, _ = self.window_inputs(np.asarray(key)[warm], self.history)
                _, (hw, cw) = self.net(x[:, :-1])
                h[:, rows], c[:, rows] = hw, cw
        out, (h, c) = self.net(self.inputs(obs, action)[:, None], (h, c))
        out = out[:, 0]
        mean = torch.cat([out[:, : self.obs_dim + 1], torch.sigmoid(out[:, -1:])], 1)
        state = torch.cat([h[0], c[0]], 1).cpu().numpy()
        return mean, state

    def forward(
        self, x: torch.Tensor, var: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Without history: the LSTM from a zero state (prefer ``predict`` with key/state)."""
        out, _ = self.net(x[:, None])
        out = out[:, 0]
        return torch.cat([out[:, :-1], torch.sigmoid(out[:, -1:])], 1), None


def from_context(ctx: ModelContext) -> LSTMModel:
    mc = ctx.cfg.model
    return LSTMModel(**common_args(ctx), hidden=mc.lstm_hidden, history=mc.history, lr=mc.lr)
