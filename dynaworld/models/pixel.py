"""Learned pixel models: action-conditional next-frame prediction after Oh et al. (2015).

encoder (convolutions → h) → action-conditional transformation h' = W_dec((W_enc h) ⊙ (W_a a))
→ decoder (transposed convolutions → next frame), with a reward and a termination head on h'.
Atari (4×84×84 stacks) predicts the next 84×84 frame, which is pushed onto the stack; MinAtar
(C×10×10 binary grids) predicts the next grid, one Bernoulli logit per cell.

``PixelModel`` is the model m of Algorithm 1: ``update`` (UPDATEMODEL) trains it from the replay
buffer at its own update ratio, skipping held-out episodes; ``step`` answers a batch of (s̃, ã) in
one forward pass; ``k_step_error`` measures open-loop prediction error on held-out real data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dynaworld.agents.networks import nature_trunk
from dynaworld.checkpoint import load_checkpoint
from dynaworld.errors import DynaworldError
from dynaworld.loop import Ratio
from dynaworld.models.heldout import k_step_error, training_indices
from dynaworld.registry import ModelContext
from dynaworld.replay import ReplayBuffer
from dynaworld.types import Prediction, Query, Transition


class ActionConditionalNet(nn.Module):
    def __init__(self, obs_shape: tuple[int, ...], n_actions: int, hidden: int = 512) -> None:
        super().__init__()
        c, h, w = obs_shape
        self.atari = h == 84
        self.n_actions = n_actions
        if self.atari:
            self.encoder = nature_trunk(c)
            self.grid = (64, 7, 7)
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(64, 64, 3, 1),
                nn.ReLU(),
                nn.ConvTranspose2d(64, 32, 4, 2),
                nn.ReLU(),
                nn.ConvTranspose2d(32, 1, 8, 4),
            )
        else:
            self.encoder = nn.Sequential(
                nn.Conv2d(c, 32, 3, 1, 1),
                nn.ReLU(),
                nn.Conv2d(32, 64, 3, 1, 1),
                nn.ReLU(),
                nn.Flatten(),
            )
            self.grid = (64, h, w)
            self.decoder = nn.Sequential(
                nn.Conv2d(64, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, c, 3, 1, 1)
            )
        flat = math.prod(self.grid)
        self.embed = nn.Sequential(nn.Linear(flat, hidden), nn.ReLU())
        self.w_enc = nn.Linear(hidden, hidden, bias=False)
        self.w_act = nn.Linear(n_actions, hidden, bias=False)
        self.w_dec = nn.Linear(hidden, hidden)
        self.expand = nn.Sequential(nn.Linear(hidden, flat), nn.ReLU())
        self.reward = nn.Linear(hidden, 1)
        self.done = nn.Linear(hidden, 1)

    def forward(
        self, obs: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Next-frame logits (Atari: 1×84×84 in [0,1] after sigmoid; MinAtar: C×10×10), reward, done logit."""
        x = obs.float() / 255.0 if self.atari else obs.float()
        h = self.embed(self.encoder(x))
        a = F.one_hot(action.long(), self.n_actions).float()
        h2 = F.relu(self.w_dec(self.w_enc(h) * self.w_act(a)))
        frame = self.decoder(self.expand(h2).view(-1, *self.grid))
        return frame, self.reward(h2).squeeze(1), self.done(h2).squeeze(1)


class PixelModel:
    """m: an ActionConditionalNet trained online from the replay buffer (or pretrained and frozen)."""

    def __init__(
        self,
        net: ActionConditionalNet,
        buffer: ReplayBuffer,
        device: torch.device | str,
        seed: int,
        lr: float = 1e-4,
        batch_size: int = 32,
        updates_per_step: float = 0.25,
        start: int = 1000,
        holdout_every: int = 10,
        frozen: bool = False,
    ) -> None:
        self.net = net.to(device)
        self.device = torch.device(device)
        self.buffer, self.batch_size, self.start = buffer, batch_size, start
        self.schedule = Ratio(updates_per_step, start)  # minibatch updates per real step
        self.holdout_every, self.frozen = holdout_every, frozen
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.steps = 0
        self.updates = 0
        self.last_loss = math.nan

    # ------------------------------------------------------------------ UPDATEMODEL
    def update(self, transition: Transition) -> None:
        self.steps += 1
        if self.frozen or self.steps <= self.start:
            return
        for _ in range(self.schedule.between(self.steps - 1, self.steps)):
            self.last_loss = self.train_batch(self.training_indices(self.batch_size))

    def training_indices(self, n: int) -> np.ndarray:
        return training_indices(self.buffer, n, self.rng, self.holdout_every)

    def _tensors(self, b: ReplayBuffer, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        slots = idx % b.capacity
        dev = self.device
        obs = torch.from_numpy(b.observations(idx)).to(dev)
        nxt = torch.from_numpy(b.observations(idx + 1)).to(dev)
        a = torch.from_numpy(b.actions[slots]).to(dev)
        r = torch.from_numpy(b.rewards[slots]).to(dev)
        d = torch.from_numpy(b.dones[slots].astype(np.float32)).to(dev)
        return obs, a, r, nxt, d

    def loss(
        self,
        obs: torch.Tensor,
        a: torch.Tensor,
        r: torch.Tensor,
        nxt: torch.Tensor,
        d: torch.Tensor,
    ) -> torch.Tensor:
        frame, r_hat, d_logit = self.net(obs, a)
        if self.net.atari:
            target = nxt[:, -1:].float() / 255.0
            frame_loss = (
                F.mse_loss(torch.sigmoid(frame), target, reduction="none").sum((1, 2, 3)).mean()
                / 100.0
            )
        else:
            frame_loss = (
                F.binary_cross_entropy_with_logits(frame, nxt.float(), reduction="none")
                .sum((1, 2, 3))
                .mean()
            )
        return frame_loss + F.mse_loss(r_hat, r) + F.binary_cross_entropy_with_logits(d_logit, d)

    def train_batch(self, idx: np.ndarray) -> float:
        loss = self.loss(*self._tensors(self.buffer, idx))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 10.0)
        self.optimizer.step()
        self.updates += 1
        return float(loss.detach())

    # ------------------------------------------------------------------ m(s̃, ã)
    @torch.inference_mode()
    def predict(
        self, obs: np.ndarray, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        o = torch.from_numpy(np.ascontiguousarray(obs)).to(self.device)
        frame, r, d = self.net(o, torch.from_numpy(np.asarray(action)).to(self.device))
        if self.net.atari:
            new = (torch.sigmoid(frame) * 255.0).round().to(torch.uint8)
            nxt = torch.cat([o[:, 1:], new], 1)
        else:
            nxt = (frame > 0).to(o.dtype)
        return nxt.cpu().numpy(), r.float().cpu().numpy(), (d > 0).cpu().numpy()

    def step(self, query: Query[np.ndarray]) -> Prediction[np.ndarray]:
        nxt, r, done = self.predict(query.obs, query.action)
        n = len(query.action)
        return Prediction(r.astype(np.float32), nxt, done, np.ones(n, np.int64))

    # ------------------------------------------------------------------ evaluation
    def rollout(
        self, obs: np.ndarray, actions: np.ndarray, key: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k-step open-loop prediction: frames (B, k, ...), rewards and dones (B, k)."""
        frames, rewards, dones = [], [], []
        for j in range(actions.shape[1]):
            obs, r, d = self.predict(obs, actions[:, j])
            frames.append(obs)
            rewards.append(r)
            dones.append(d)
        return np.stack(frames, 1), np.stack(rewards, 1), np.stack(dones, 1)

    def state_error(self, predicted: np.ndarray, truth: np.ndarray) -> float:
        """Atari: mean absolute pixel error of the newest frame (0..1); MinAtar: wrong cells."""
        if self.net.atari:
            return float(np.abs(predicted[:, -1].astype(np.float32) - truth[:, -1]).mean() / 255.0)
        return float((predicted != truth).mean())

    def k_step_error(
        self, k: int, samples: int = 128, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Open-loop frame and reward errors at steps 1..k (``heldout.k_step_error``)."""
        return k_step_error(self, k, samples, rng)

    def done_at(self, idx: np.ndarray) -> np.ndarray:
        """Predicted termination of the replay transitions ``idx`` (for ``termination_error``)."""
        return self.predict(
            self.buffer.observations(idx), self.buffer.actions[idx % self.buffer.capacity]
        )[2]

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "steps": self.steps,
            "updates": self.updates,
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.net.load_state_dict(d["net"])
        self.optimizer.load_state_dict(d["optimizer"])
        self.rng.bit_generator.state = d["rng"]
        self.steps, self.updates = int(d["steps"]), int(d["updates"])


def from_context(ctx: ModelContext, frozen: bool = False) -> PixelModel:
    """The action-conditional model trained online (``frozen``: not trained at all)."""
    mc = ctx.cfg.model
    net = ActionConditionalNet(ctx.obs_shape, ctx.n_actions, mc.hidden)
    return PixelModel(
        net,
        ctx.buffer,
        ctx.device,
        ctx.seed,
        lr=mc.lr,
        batch_size=mc.batch_size,
        updates_per_step=mc.updates_per_step,
        start=ctx.cfg.replay.learning_starts,
        holdout_every=mc.holdout_every,
        frozen=frozen,
    )


def pretrained(ctx: ModelContext) -> PixelModel:
    """The model of ``planning.model_path`` (written by 'dynaworld model-train'), frozen."""
    model = from_context(ctx, frozen=True)
    load_pretrained(model, ctx.cfg.planning.model_path)
    return model


def load_pretrained(model: PixelModel, path: str | None) -> None:
    state = load_checkpoint(path or "")
    if "model" not in state:
        raise DynaworldError(
            f"{path} is not a model checkpoint (write one with 'dynaworld model-train')"
        )
    try:
        model.net.load_state_dict(state["model"]["net"])
    except RuntimeError as e:
        raise DynaworldError(
            f"{path} does not fit this game's model: {str(e).splitlines()[0]}"
        ) from None
