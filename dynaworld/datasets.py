"""Expert datasets for pretrained models: collect transitions with a trained agent, train a model.

``collect`` plays a run's newest checkpoint and writes its transitions to ``DATASET/`` as
compressed chunks (``chunk_00000.npz`` …, frames stored once as in the replay buffer) plus
``meta.json``; the folder appears atomically (written under a temporary name, then renamed).
``train_model`` fits the learned pixel model on a dataset and writes a checkpoint that
``planning.model=pretrained planning.model_path=...`` loads and freezes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld import checkpoint as ckpt
from dynaworld.build import load_agent
from dynaworld.config import TrainConfig, to_dict
from dynaworld.device import resolve_device
from dynaworld.envs import is_atari, make_env
from dynaworld.errors import DynaworldError
from dynaworld.files import atomic_write, load_npz, read_json
from dynaworld.loop import Loop, LoopState
from dynaworld.models import ReplayWriter
from dynaworld.models.heldout import termination_error
from dynaworld.models.pixel import ActionConditionalNet, PixelModel, load_pretrained
from dynaworld.progress import progress_bar
from dynaworld.replay import ReplayBuffer
from dynaworld.types import Transition

ARRAYS = ("frames", "actions", "rewards", "dones", "has_next", "episode_start")


def collect(
    run_dir: str | Path,
    steps: int,
    out: str | Path,
    epsilon: float = 0.05,
    seed: int = 0,
    chunk: int = 10_000,
) -> Path:
    """Play the newest checkpoint of ``run_dir`` for ``steps`` real steps; write the dataset."""
    out = Path(out)
    if out.exists():
        raise DynaworldError(
            f"{out} already exists: choose another --out (nothing was overwritten)"
        )
    cfg, agent, latest = load_agent(run_dir)
    env = make_env(cfg.env, train=True)
    shape = tuple(env.observation_space.shape or ())
    buffer = ReplayBuffer.for_observation(
        shape, env.observation_space.dtype, 2 * steps + 1, stacked=is_atari(cfg.env.id)
    )
    record = _Episodes(progress_bar(total=steps, desc=f"collect {cfg.env.id}", unit="step"))
    obs, _ = env.reset(seed=seed)
    loop = Loop(
        env,
        FixedEpsilon(agent, epsilon, seed),
        data=[ReplayWriter(buffer)],
        M=steps,
        callbacks=[record],
        state=LoopState(obs=obs),
    )
    loop.run()  # Algorithm 1 with no planning and no learning: real interactions into D
    record.bar.close()
    returns = record.returns
    meta = {
        "env_id": cfg.env.id,
        "steps": steps,
        "frames": buffer.t,
        "epsilon": epsilon,
        "source": str(run_dir),
        "checkpoint": str(latest),
        "episodes": len(returns),
        "episode_return_mean": float(np.mean(returns)) if returns else None,
        "frame_shape": list(buffer.frame_shape),
        "dtype": str(buffer.frames.dtype),
        "stack": buffer.stack,
        "config": to_dict(cfg),
    }
    write_dataset(buffer, out, meta, chunk)
    return out


class FixedEpsilon:
    """π for data collection: the trained agent, epsilon-greedy at a fixed epsilon; no learning."""

    def __init__(self, agent: Any, epsilon: float, seed: int) -> None:
        self.agent, self.epsilon = agent, epsilon
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def act(self, obs: np.ndarray) -> int:
        return int(self.agent.policy(obs[None], self.epsilon, self.rng)[0])

    def update(self, batch: Any) -> int:
        return 0


class _Episodes:
    """Callback: the returns of finished episodes, and the progress bar."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.returns: list[float] = []

    def on_step(self, t: Transition, state: LoopState) -> None:
        if t.episode_end:
            self.returns.append(float(t.info["episode"]["r"]))
        self.bar.update(1)

    def on_iteration(self, state: LoopState) -> bool:
        return False


def write_dataset(buffer: ReplayBuffer, out: Path, meta: dict[str, Any], chunk: int) -> None:
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = buffer.t
    for i, lo in enumerate(range(0, n, chunk)):
        hi = min(n, lo + chunk)
        np.savez_compressed(
            tmp / f"chunk_{i:05d}.npz", **{a: getattr(buffer, a)[lo:hi] for a in ARRAYS}
        )
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    os.replace(tmp, out)


def load_dataset(path: str | Path) -> tuple[ReplayBuffer, dict[str, Any]]:
    """A dataset as a (full) replay buffer, ready for model training."""
    p = Path(path)
    if not (p / "meta.json").is_file():
        raise DynaworldError(
            f"{p} is not a dataset (no meta.json); make one with 'dynaworld collect'"
        )
    meta = read_json(p / "meta.json", "dataset record")
    try:
        frames, shape, stack = (
            int(meta["frames"]),
            tuple(int(x) for x in meta["frame_shape"]),
            int(meta["stack"]),
        )
        dtype, _ = np.dtype(meta["dtype"]), str(meta["env_id"])
        size = (frames + 1) * int(np.prod(shape)) * dtype.itemsize
    except (KeyError, TypeError, ValueError) as e:
        raise DynaworldError(
            f"{p / 'meta.json'} is not a dataset record ({type(e).__name__}: {e})"
        ) from None
    if (
        frames < 1
        or stack < 1
        or dtype.kind not in "biuf"
        or size > sum(f.stat().st_size for f in p.glob("chunk_*.npz")) * 1000 + 2**20
    ):
        raise DynaworldError(
            f"{p / 'meta.json'}: {frames:,} frames of {shape} {dtype} do not fit its chunk files"
        )
    buf = ReplayBuffer(frames + 1, shape, dtype, stack)
    lo = 0
    for f in sorted(p.glob("chunk_*.npz")):
        z = load_npz(f, ARRAYS, "dataset chunk")
        n = len(z["actions"])
        try:
            for a in ARRAYS:
                getattr(buf, a)[lo : lo + n] = z[a]
        except ValueError as e:
            raise DynaworldError(f"{f} does not fit {p / 'meta.json'} ({e})") from None
        lo += n
    if lo != meta["frames"]:
        raise DynaworldError(f"{p}: chunks hold {lo} frames, meta.json says {meta['frames']}")
    buf.t = lo
    return buf, meta


def train_model(
    dataset: str | Path,
    cfg: TrainConfig,
    out: str | Path,
    updates: int,
    seed: int = 0,
    init: str | Path | None = None,
) -> Path:
    """Fit the learned pixel model on ``dataset`` for ``updates`` minibatches; write its checkpoint
    and its errors on the dataset's held-out episodes. ``init``: start from that model checkpoint's
    weights (fresh optimizer); with ``updates=0`` this only measures it."""
    buffer, meta = load_dataset(dataset)
    if meta["env_id"] != cfg.env.id:
        raise DynaworldError(f"dataset is from {meta['env_id']}, config is for {cfg.env.id}")
    env = make_env(cfg.env, train=True)
    torch.manual_seed(seed)
    net = ActionConditionalNet(
        tuple(env.observation_space.shape or ()),
        int(env.action_space.n),  # type: ignore[attr-defined]
        cfg.model.hidden,
    )
    model = PixelModel(
        net,
        buffer,
        resolve_device(cfg.device),
        seed,
        lr=cfg.model.lr,
        batch_size=cfg.model.batch_size,
        holdout_every=cfg.model.holdout_every,
    )
    if init is not None:
        load_pretrained(model, str(init))
    t0 = time.time()
    bar = progress_bar(total=updates, desc=f"model-train {cfg.env.id}", unit="update")
    for i in range(updates):
        loss = model.train_batch(model.training_indices(cfg.model.batch_size))
        if i % 100 == 0:
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.update(1)
    bar.close()
    err = model.k_step_error(cfg.model.error_k, samples=256)
    ends = termination_error(model, samples=256)
    info = {
        "dataset": str(dataset),
        "init": str(init) if init is not None else None,
        "env_id": cfg.env.id,
        "updates": updates,
        "seconds": round(time.time() - t0, 1),
        "final_loss": loss if updates else None,  # no update: nothing measured
        "k_step_frame_error": err[0].tolist() if err else None,
        "k_step_reward_error": err[1].tolist() if err else None,
        "termination": dict(zip(("terminals", "recall", "false_alarm"), ends, strict=True))
        if ends
        else None,
    }
    out = Path(out)
    ckpt.save_file({"format": 1, "model": model.state_dict(), "info": info}, out)
    with atomic_write(out.with_suffix(".json"), "w") as f:
        json.dump(info, f, indent=2)
    return out
