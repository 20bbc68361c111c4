"""Rollouts on disk: atomic compressed files, the data policies, the recording sink, streaming loaders.

A dataset is a folder of ``rollout_<i>.npz`` files (``frames`` (T+1, 64, 64, 3) uint8, ``actions``
(T, A), ``rewards`` (T,), ``terminated`` (T,)) plus ``meta.json`` once complete. Each file is written
under a temporary name and renamed, so a killed collection leaves only whole rollouts and resumes
where it stopped. Loaders hold at most ``buffer_rollouts`` files in memory at a time, so training
on 10k rollouts x 1,000 frames needs no more RAM than a few dozen rollouts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from dynaworld import files
from dynaworld.agents.controller import Controller
from dynaworld.errors import DynaworldError
from dynaworld.files import atomic_write
from dynaworld.models.mdnrnn import action_vector

PATTERN = "rollout_{:06d}.npz"


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` to a temporary file, then an atomic rename."""
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def write_rollout(
    path: Path, frames: list[Any], actions: list[Any], rewards: list[Any], terms: list[Any]
) -> None:
    """One rollout file: frames (T+1, 64, 64, 3) uint8, actions (T, A), rewards, terminated."""
    write_npz(
        path,
        frames=np.stack(frames),
        actions=np.stack(actions),
        rewards=np.asarray(rewards, np.float32),
        terminated=np.asarray(terms, bool),
    )


def load_npz(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The arrays of a rollout file (``allow_pickle=False``: object arrays are refused)."""
    return files.load_npz(path, keys, "rollout file")


def rollout_steps(path: Path) -> int:
    """A rollout's number of actions, reading only its small rewards array (closed after)."""
    return len(load_npz(path, ("rewards",))["rewards"])


def rollout_files(folder: str | Path) -> list[Path]:
    return sorted(Path(folder).glob("rollout_*.npz"))


class Hold(NamedTuple):
    """How long a random action is held: 1..``max`` steps, or with probability ``long``
    1..``long_max`` steps (``data.hold_max``, ``data.hold_long``, ``data.hold_long_max``)."""

    max: int = 10
    long: float = 0.0
    long_max: int = 100

    @classmethod
    def of(cls, data: Any) -> Hold:
        """The hold of a ``DataConfig``."""
        return cls(data.hold_max, data.hold_long, data.hold_long_max)

    def draw(self, rng: np.random.Generator) -> int:
        """One hold length (no extra draw when ``long`` is 0, so such data are unchanged)."""
        longest = self.long_max if self.long > 0 and rng.random() < self.long else self.max
        return int(rng.integers(1, longest + 1))


SHORT_HOLDS = Hold()  # 1..10 steps, the reference's


class DataPolicy:
    """Uniform random actions held for ``hold.draw()`` steps, or (kind 'reference') the
    reference's random World Model (``ReferencePolicy``)."""

    def __init__(
        self, space: gym.Space[Any], kind: str, hold: Hold, rng: np.random.Generator
    ) -> None:
        self.space, self.kind, self.hold, self.rng = space, kind, hold, rng
        self.left = 0
        self.action: Any = None
        self.reference = ReferencePolicy(space, rng) if kind == "reference" else None

    def __call__(self, frame: np.ndarray) -> Any:
        if self.reference is not None:
            return self.reference(frame)
        space = self.space
        if self.left <= 0:
            if isinstance(space, gym.spaces.Discrete):
                self.action = int(self.rng.integers(space.n))
            else:
                self.action = self.rng.uniform(space.low, space.high).astype(np.float32)  # type: ignore[attr-defined]
            self.left = self.hold.draw(self.rng)
        self.left -= 1
        return self.action


class ReferencePolicy:
    """The CarRacing data policy of the reference code (WorldModelsExperiments' extract.py): each
    episode a World Model with random weights drives, a = C([z, h]), z drawn from V's (mu,
    logvar) of the frame. C's weights are standard Cauchy x s, s ~ U(0, 0.01); V's and M's are
    the same / 10,000 (their ``set_model_params`` divides by 10,000), so V gives mu, logvar = 0
    and M h = 0 to within ~1e-6: z is N(0, I) noise each step. That is what this computes, without
    running the untrained V and M. A few heavy-tailed weights make every episode drive differently
    (a steady pull to one side, jittery gas, some braking)."""

    Z, H = 32, 256  # the reference's z and M sizes (C's input width)

    def __init__(self, space: gym.Space[Any], rng: np.random.Generator) -> None:
        if not isinstance(space, gym.spaces.Box) or space.shape != (3,):
            raise DynaworldError("data.policy='reference' is CarRacing's (a Box(3) action space)")
        self.rng = rng
        self.c = Controller(self.Z + self.H, "car")
        scale = float(rng.random()) * 0.01
        self.params = torch.from_numpy(rng.standard_cauchy(self.c.n_params) * scale).float()[None]

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        x = np.zeros(self.Z + self.H, np.float32)
        x[: self.Z] = self.rng.standard_normal(self.Z)
        return self.c.act(self.params, torch.from_numpy(x)[None, None])[0, 0].numpy()


class Recorder:
    """A ``Sink`` keeping the last played episode as a rollout (frames, action vectors, rewards,
    terminations); ``write`` makes it a rollout file."""

    def __init__(self, space: gym.Space[Any]) -> None:
        self.space = space
        self.frames: list[Any] = []
        self.actions: list[Any] = []
        self.rewards: list[Any] = []
        self.terms: list[bool] = []

    def begin(self, episode: int, obs: Any) -> None:
        self.frames, self.actions, self.rewards, self.terms = [obs], [], [], []

    def step(self, episode: int, action: Any, reward: Any, terminated: bool, obs: Any,
             done: bool) -> None:  # fmt: skip
        self.frames.append(obs)
        a = torch.as_tensor(np.asarray(action))[None]
        self.actions.append(action_vector(a, self.space)[0].numpy())
        self.rewards.append(reward)
        self.terms.append(terminated)

    def write(self, path: Path) -> None:
        write_rollout(path, self.frames, self.actions, self.rewards, self.terms)


def frame_batches(
    files: list[Path], batch_size: int, buffer_rollouts: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """One pass over every frame of ``files`` in random order, ``buffer_rollouts`` files at a time."""
    order = rng.permutation(len(files))
    carry: np.ndarray | None = None
    for start in range(0, len(order), buffer_rollouts):
        chunk = [load_npz(files[i])["frames"] for i in order[start : start + buffer_rollouts]]
        frames = np.concatenate(([carry] if carry is not None else []) + chunk)
        del chunk
        idx = rng.permutation(len(frames))
        n = len(frames) // batch_size * batch_size
        for b in range(0, n, batch_size):
            yield frames[idx[b : b + batch_size]]
        carry = frames[idx[n:]]
        del frames
    if carry is not None and len(carry):
        yield carry


def sequence_batches(
    files: list[Path], seq_len: int, batch_size: int, buffer_rollouts: int, rng: np.random.Generator
) -> Iterator[dict[str, np.ndarray]]:
    """Endless random windows of ``seq_len`` steps from encoded rollouts (``mu``, ``logvar``, ...).

    Each batch: ``mu``/``logvar`` (B, L+1, Z) for z_t and z_{t+1}, ``actions`` (B, L, A), ``rewards``,
    ``terminated`` and ``mask`` (B, L): a window starts at any step of its episode, so the last
    steps (deaths) are as likely as any; what runs past the episode's end is zero-padded and masked.
    Every ``buffer_rollouts * 4`` batches a fresh set of files is loaded.
    """
    while True:
        pick = rng.choice(len(files), size=min(buffer_rollouts, len(files)), replace=False)
        data = [load_npz(files[i]) for i in pick]
        for _ in range(max(1, buffer_rollouts * 4)):
            rows = [data[i] for i in rng.integers(len(data), size=batch_size)]
            yield _windows(rows, seq_len, rng)


def _windows(
    rows: list[dict[str, np.ndarray]], L: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    B, Z = len(rows), rows[0]["mu"].shape[1]
    A = rows[0]["actions"].shape[1]
    out = {
        "mu": np.zeros((B, L + 1, Z), np.float32),
        "logvar": np.zeros((B, L + 1, Z), np.float32),
        "actions": np.zeros((B, L, A), np.float32),
        "rewards": np.zeros((B, L), np.float32),
        "terminated": np.zeros((B, L), np.float32),
        "mask": np.zeros((B, L), np.float32),
    }
    for b, r in enumerate(rows):
        # Start anywhere in the episode (a window near the end is shorter, the rest masked):
        # starts only in [0, T - L] would almost never include the last step, and M's death head
        # would never see a death (Doom: 1 window in ~220 instead of ~1 in 3).
        T = len(r["rewards"])
        s = int(rng.integers(0, T))
        n = min(L, T - s)
        out["mu"][b, : n + 1] = r["mu"][s : s + n + 1]
        out["logvar"][b, : n + 1] = r["logvar"][s : s + n + 1]
        out["actions"][b, :n] = r["actions"][s : s + n]
        out["rewards"][b, :n] = r["rewards"][s : s + n]
        out["terminated"][b, :n] = r["terminated"][s : s + n]
        out["mask"][b, :n] = 1.0
    return out
