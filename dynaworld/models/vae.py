"""V: the convolutional VAE of World Models (Ha & Schmidhuber 2018), frame (64x64x3) <-> z."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class ConvVAE(nn.Module):
    """Encoder conv 32/64/128/256 (4x4, stride 2) -> mu, logvar; decoder dense -> 4 deconvs.

    ReLUs are in place: the same numbers, and a quarter less time per encode on CPU (it is
    memory-bound after the first conv)."""

    def __init__(self, z_dim: int = 32) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 32, 4, 2), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 4, 2), nn.ReLU(inplace=True),
            nn.Conv2d(64, 128, 4, 2), nn.ReLU(inplace=True),
            nn.Conv2d(128, 256, 4, 2), nn.ReLU(inplace=True),
            nn.Flatten(),
        )  # fmt: skip
        self.mu = nn.Linear(2 * 2 * 256, z_dim)
        self.logvar = nn.Linear(2 * 2 * 256, z_dim)
        self.fc = nn.Linear(z_dim, 1024)
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(1024, 128, 5, 2), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(128, 64, 5, 2), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(64, 32, 6, 2), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(32, 3, 6, 2), nn.Sigmoid(),
        )  # fmt: skip

    @staticmethod
    def to_input(frames: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 64, 64, 3) -> float (B, 3, 64, 64) in [0, 1]."""
        return frames.permute(0, 3, 1, 2).float().div_(255.0)

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames (B, 64, 64, 3) -> (mu, logvar), each (B, z_dim)."""
        h = self.encoder(self.to_input(frames))
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, z_dim) -> frames in [0, 1], (B, 3, 64, 64)."""
        return self.decoder(self.fc(z)[:, :, None, None])

    def loss(
        self, frames: torch.Tensor, kl_tolerance: float = 0.5
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Summed squared error per frame + KL with a free-bits floor kl_tolerance * z_dim."""
        x = self.to_input(frames)
        h = self.encoder(x)
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = self.decoder(self.fc(z)[:, :, None, None])
        r = F.mse_loss(recon, x, reduction="none").sum(dim=(1, 2, 3)).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        loss = r + torch.clamp(kl, min=kl_tolerance * self.z_dim)
        return loss, {"recon": r.item(), "kl": kl.item(), "loss": loss.item()}


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """V's output frames (B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8."""
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
