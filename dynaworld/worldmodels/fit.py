"""UPDATEMODEL of World Models: V and M fitted on the rollouts gathered so far.

``fit`` is the one resumable training loop (a checkpoint every 200 updates and at least every
5 minutes, CSV and TensorBoard logs) that V and M share. V is trained once, on iteration 1's random rollouts; every iteration
encodes its own rollouts with V, and M is trained on the encoded rollouts of all iterations so
far (iteration k > 1 starts from iteration k - 1's M: the paper's "retrain M").
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from tensorboardX import SummaryWriter

from dynaworld.checkpoint import load_file, save_file
from dynaworld.errors import DynaworldError
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.models.vae import ConvVAE, to_uint8
from dynaworld.progress import progress_bar
from dynaworld.runlog import CsvLog
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.rollout import load_m, load_v
from dynaworld.worldmodels.run import WorldModelsRun

Loss = Callable[[Any], tuple[torch.Tensor, dict[str, float]]]
Batches = Callable[[int], Iterable[Any]]


SAVE_SECONDS = 300.0  # a checkpoint at least this often, so a killed session loses little


def replayed(stream: Batches, to: Callable[[Any], Any], period: int | None = None) -> Batches:
    """``batches`` for ``fit`` whose batch at update i does not depend on where training resumed.

    ``stream(s)`` yields the batches from update s on, for s a multiple of ``period`` (an epoch),
    or s = 0 only (``period`` None: one endless stream). ``batches(step)`` restarts the stream
    that update ``step`` belongs to, skips (draws and drops) the batches before ``step`` and
    yields the rest through ``to`` (e.g. onto the device), which skipped batches never reach."""

    def batches(step: int) -> Iterator[Any]:
        start = 0 if period is None else step - step % period
        it = iter(stream(start))
        next(itertools.islice(it, step - start, step - start), None)  # skip, as itertools' consume
        return map(to, it)

    return batches


def fit(
    folder: Path,
    name: str,
    model: torch.nn.Module,
    lr: float,
    steps: int,
    batches: Batches,
    loss: Loss,
    columns: tuple[str, ...],
    *,
    seed: int,
    device: torch.device,
    clip: float | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Train ``model`` for ``steps`` updates, resuming from ``folder/<name>.ckpt``.

    ``batches(step)`` yields batches from update ``step`` on (``replayed`` makes them the same
    batches whether or not training stopped before ``step``); ``loss(batch)`` gives the loss and
    its logged parts (``columns``)."""
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ckpt, step = folder / f"{name}.ckpt", 0
    if ckpt.exists():
        state = load_file(ckpt, "World Models checkpoint")
        model.load_state_dict(state["weights"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
    log = CsvLog(folder / f"{name}_log.csv", ("update",) + columns, step, step_key="update")
    tb = SummaryWriter(str(folder / "tensorboard" / name), purge_step=step)
    bar = progress_bar(
        total=steps, initial=step, desc=f"train {name}", unit="upd", disable=not progress
    )
    parts: dict[str, float] = {}
    saved = time.monotonic()
    while step < steps:
        for batch in batches(step):
            torch.manual_seed(seed + step)  # per update, so a resume at any step is exact
            value, parts = loss(batch)
            opt.zero_grad(set_to_none=True)
            value.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            step += 1
            bar.update()
            if step % 50 == 0 or step == steps:
                log.write({"update": step, **parts})
                for k, v in parts.items():
                    tb.add_scalar(f"{'V' if name == 'vae' else 'M'}/{k}", v, step)
                bar.set_postfix(loss=f"{parts['loss']:.3g}")
            if step % 200 == 0 or step == steps or time.monotonic() - saved > SAVE_SECONDS:
                saved = time.monotonic()
                log.flush()
                save_file(
                    {"weights": model.state_dict(), "optimizer": opt.state_dict(), "step": step},
                    ckpt,
                )
            if step >= steps:
                break
    bar.close()
    log.close()
    tb.close()
    return parts


def rollouts(run: WorldModelsRun, k: int) -> list[Path]:
    """The real rollouts of iteration k (iteration 1: the first data.rollouts)."""
    files = wmdata.rollout_files(run.data_dir(k))
    files = files[: run.cfg.data.rollouts] if k == 1 else files
    if not files:
        raise DynaworldError(f"no rollouts in {run.data_dir(k)}: run the 'collect' stage first")
    return files


def train_v(run: WorldModelsRun, progress: bool = True) -> dict[str, Any]:
    if (run.dir / "vae.pt").exists():
        return {"skipped": True}
    vc, cfg, files = run.cfg.vae, run.cfg, rollouts(run, 1)
    train_files = files[:-1] if len(files) > 1 else files  # the last rollout is held out
    frames = sum(wmdata.rollout_steps(f) + 1 for f in train_files)
    steps = max(1, math.ceil(vc.epochs * frames / vc.batch_size))
    torch.manual_seed(cfg.seed)  # V's initial weights: from the seed, not the process's history
    v = ConvVAE(vc.z_dim)

    def epoch(start: int) -> Iterable[np.ndarray]:  # one pass over the frames, in a new order
        rng = np.random.default_rng([cfg.seed, start])
        return wmdata.frame_batches(train_files, vc.batch_size, vc.buffer_rollouts, rng)

    parts = fit(
        run.dir,
        "vae",
        v,
        vc.lr,
        steps,
        replayed(
            epoch,
            lambda b: torch.from_numpy(b).to(run.device),
            period=math.ceil(frames / vc.batch_size),
        ),
        lambda b: v.loss(b, vc.kl_tolerance),
        ("loss", "recon", "kl"),
        seed=cfg.seed,
        device=run.device,
        progress=progress,
    )
    save_file({"z_dim": vc.z_dim, "weights": v.cpu().state_dict()}, run.dir / "vae.pt")
    recon_grid(v, wmdata.load_npz(files[-1])["frames"], run.dir / "vae_recon.png")
    return {"updates": steps, **parts}


def encode(run: WorldModelsRun, k: int = 1, progress: bool = True) -> dict[str, Any]:
    """mu and logvar of every frame of iteration k's rollouts (V's z), beside the actions."""
    out = run.encoded_dir(k)
    out.mkdir(parents=True, exist_ok=True)
    todo = [f for f in rollouts(run, k) if not (out / f.name).exists()]
    if not todo:
        return {"skipped": True}
    v = load_v(run.dir / "vae.pt", str(run.device))
    for f in progress_bar(iterable=todo, desc=f"encode {k}", unit="rollout", disable=not progress):
        r = wmdata.load_npz(f)
        mu, logvar = encode_frames(v, r["frames"], run.device)
        wmdata.write_npz(
            out / f.name,
            mu=mu,
            logvar=logvar,
            actions=r["actions"],
            rewards=r["rewards"],
            terminated=r["terminated"],
        )
    return {"encoded": len(todo)}


@torch.no_grad()
def encode_frames(
    v: ConvVAE, frames: np.ndarray, device: torch.device | str = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """V's (mu, logvar) of a rollout's uint8 frames, 500 frames at a time."""
    parts = [v.encode(torch.from_numpy(frames[b : b + 500]).to(device)) for b in range(0, len(frames), 500)]  # fmt: skip
    return tuple(np.concatenate([p[i].cpu().numpy() for p in parts]) for i in (0, 1))  # type: ignore[return-value]


def encoded_files(run: WorldModelsRun, upto: int = 1) -> list[Path]:
    """The encoded rollouts of iterations 1..upto."""
    files = [f for k in range(1, upto + 1) for f in wmdata.rollout_files(run.encoded_dir(k))]
    if not files:
        raise DynaworldError(f"{run.encoded_dir(1)} is empty: run the 'encode' stage first")
    return files


def train_m(run: WorldModelsRun, k: int = 1, progress: bool = True) -> dict[str, Any]:
    """M on the encoded rollouts of iterations 1..k; iteration k > 1 starts from M_(k-1)."""
    if run.m_path(k).exists():
        return {"skipped": True}
    mc, cfg, files = run.cfg.mdn, run.cfg, encoded_files(run, k)
    first = wmdata.load_npz(files[0])
    shape = {
        "z_dim": int(first["mu"].shape[1]),
        "action_dim": int(first["actions"].shape[1]),
        "hidden": mc.hidden,
        "gaussians": mc.gaussians,
        "reward_head": mc.reward_head,
        "done_head": mc.done_head,
    }
    torch.manual_seed(cfg.seed + 1)  # M's initial weights: from the seed
    m = load_m(run.m_path(k - 1)).train() if k > 1 else MDNRNN(**shape)  # type: ignore[arg-type]
    steps = mc.steps if k == 1 else (cfg.iterate.mdn_steps or mc.steps)

    def windows(start: int) -> Iterable[dict[str, np.ndarray]]:  # endless: start is 0
        rng = np.random.default_rng([cfg.seed, start, k])
        return wmdata.sequence_batches(files, mc.seq_len, mc.batch_size, 64, rng)

    def to_device(b: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {name: torch.from_numpy(x).to(run.device) for name, x in b.items()}

    folder = run.iteration_dir(k)
    folder.mkdir(parents=True, exist_ok=True)
    parts = fit(
        folder,
        "mdn",
        m,
        mc.lr,
        steps,
        replayed(windows, to_device),
        lambda b: m.loss(b, mc.done_weight),
        ("loss", "z_nll", "reward_mse", "done_bce"),
        seed=cfg.seed + k - 1,
        device=run.device,
        clip=mc.grad_clip,
        progress=progress,
    )
    save_file(
        {"shape": shape, "weights": m.cpu().state_dict(), "rollouts": len(files)}, run.m_path(k)
    )
    return {"updates": steps, "rollouts": len(files), **parts}


LABEL_WIDTH = 80  # pixels left of a recon grid's rows for their labels


@torch.no_grad()
def recon_grid(
    v: ConvVAE, frames: np.ndarray, path: str | Path, n: int = 8, scale: int = 3
) -> Path:
    """Top row: n frames spread over a held-out rollout; bottom row: V's reconstructions (from
    mu); each row labelled on the left."""
    v = v.cpu().eval()
    idx = np.linspace(0, len(frames) - 1, n).astype(int)
    x = torch.from_numpy(frames[idx])
    recon = to_uint8(v.decode(v.encode(x)[0]))
    rows = [np.concatenate(list(frames[idx]), 1), np.concatenate(list(recon), 1)]
    img = Image.fromarray(np.concatenate(rows, 0))
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    h = img.height // 2
    labelled = Image.new("RGB", (img.width + LABEL_WIDTH, img.height + 16), "white")
    labelled.paste(img, (LABEL_WIDTH, 16))
    draw = ImageDraw.Draw(labelled)
    draw.text((4, 2), f"V (ConvVAE): {n} held-out frames and their reconstructions", fill="black")
    for i, text in enumerate(("input", "V's recon-\nstruction")):
        draw.multiline_text((4, 16 + i * h + h // 2 - 12), text, fill="black")
    labelled.save(path)
    return Path(path)
