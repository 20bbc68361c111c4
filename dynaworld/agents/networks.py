"""Q-networks: Nature CNN (Atari), the MinAtar CNN (Young & Tian 2019) and an MLP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dynaworld.errors import ConfigError

NATURE_MIN_SIZE = 36  # 8x8/4, 4x4/2, 3x3/1 need at least 36 pixels a side


def nature_trunk(in_channels: int) -> nn.Sequential:
    """The Nature-DQN convolutions: 32x8x8/4, 64x4x4/2, 64x3x3/1 (84x84 → 64x7x7), flattened."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 8, 4),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, 1),
        nn.ReLU(),
        nn.Flatten(),
    )


class NatureCNN(nn.Module):
    """Mnih et al. 2015: the Nature trunk and a dense layer of 512. Input uint8 frames."""

    def __init__(self, in_channels: int, n_actions: int, size: int | tuple[int, int] = 84) -> None:
        super().__init__()
        self.features = nature_trunk(in_channels)
        h, w = (size, size) if isinstance(size, int) else size
        with torch.no_grad():
            n = self.features(torch.zeros(1, in_channels, h, w)).shape[1]
        self.head = nn.Sequential(nn.Linear(n, 512), nn.ReLU(), nn.Linear(512, n_actions))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.float() / 255.0))


class MinAtarNet(nn.Module):
    """Young & Tian 2019: conv 16x3x3/1, dense 128."""

    def __init__(self, in_channels: int, n_actions: int, size: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(16 * (size - 2) ** 2, 128),
            nn.ReLU(),
            nn.Linear(128, n_actions),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


class MLP(nn.Module):
    def __init__(self, in_features: int, n_actions: int, hidden: Sequence[int] = (120, 84)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(in_features, h), nn.ReLU()]
            in_features = h
        layers.append(nn.Linear(in_features, n_actions))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


def network_kind(kind: str, obs_shape: tuple[int, ...]) -> str:
    """The network 'auto' picks for ``obs_shape`` (other kinds are returned as they are)."""
    if kind != "auto":
        return kind
    if len(obs_shape) == 3 and obs_shape[1] == obs_shape[2] == 10:
        return "minatar"
    if len(obs_shape) == 3 and min(obs_shape[1:]) >= NATURE_MIN_SIZE:
        return "nature"
    return "mlp"


def q_network(
    kind: str, obs_shape: tuple[int, ...], n_actions: int, hidden: Sequence[int] = (120, 84)
) -> nn.Module:
    """``kind``: 'auto' (by observation shape), 'nature', 'minatar' or 'mlp'.

    'auto': an MLP on vectors, the MinAtar net on C×10×10 grids, the Nature CNN on C×H×W images
    of at least 36×36 (the smallest its convolutions take), an MLP on the flattened image below.
    """
    kind = network_kind(kind, obs_shape)
    if kind == "nature":
        if len(obs_shape) != 3 or min(obs_shape[1:]) < NATURE_MIN_SIZE:
            raise ConfigError(
                f"agent.network=nature needs C×H×W images of at least {NATURE_MIN_SIZE}×"
                f"{NATURE_MIN_SIZE}, not observations of shape {obs_shape}: use 'auto' or 'mlp'"
            )
        return NatureCNN(obs_shape[0], n_actions, (obs_shape[1], obs_shape[2]))
    if kind == "minatar":
        return MinAtarNet(obs_shape[0], n_actions, obs_shape[-1])
    if kind == "mlp":
        n = 1
        for s in obs_shape:
            n *= s
        return (
            nn.Sequential(nn.Flatten(), MLP(n, n_actions, hidden))
            if len(obs_shape) > 1
            else MLP(n, n_actions, hidden)
        )
    raise ValueError(f"unknown network kind {kind!r}")
