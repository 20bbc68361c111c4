"""CarRacing data policies compared: what each shows V (issue 16, point 1).

For each ``data.policy`` ('random': uniform actions held 1-10 steps; 'reference': the reference
code's random World Model, ``ReferencePolicy``), on the same Gymnasium tracks (seeds 0..N-1):

* coverage per episode: steps, track tiles visited (of the track's tiles), mean speed, and the
  share of frames in which the road fills >= 10% of the car's 16 x 16 neighbourhood;
* V (z = 32, the paper's settings: batch 100, lr 1e-4, KL tolerance 0.5) trained for the same
  number of updates on each policy's frames, then its reconstruction loss (summed squared error
  per frame, as in training) on held-out frames of *driving*: a scripted driver that follows the
  track's centre line (pure pursuit on the env's waypoints, ~35 m/s), on other tracks.

    python benchmarks/carracing_data_coverage.py [--episodes 30] [--updates 1500] [--out FILE]

The last line printed is one JSON object (also written to --out).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld.envs.worldmodels import make_wm_env
from dynaworld.models.vae import ConvVAE
from dynaworld.worldmodels.data import SHORT_HOLDS, DataPolicy

DRIVE_SEEDS = 100_000  # the driver's tracks: seeds DRIVE_SEEDS + i, none used for training data


def drive(env: Any) -> np.ndarray:
    """Pure pursuit: steer at the waypoint 5 ahead of the nearest one, gas below 35 m/s."""
    u = env.unwrapped
    car = u.car.hull
    pos, fwd = np.array(car.position), np.array(car.GetWorldVector((0, 1)))
    track = np.array([(x, y) for _, _, x, y in u.track])
    i = int(np.argmin(((track - pos) ** 2).sum(1)))
    to = track[(i + 5) % len(track)] - pos
    angle = np.arctan2(fwd[0] * to[1] - fwd[1] * to[0], fwd @ to)
    speed = np.linalg.norm(car.linearVelocity)
    return np.array([np.clip(-2.0 * angle, -1, 1), 0.15 if speed < 35 else 0.0, 0.0], np.float32)


def road_share(frames: np.ndarray) -> np.ndarray:
    """Share of frames whose 16 x 16 patch around the car (rows 40:56, cols 24:40) is >= 10%
    road (grey: R, G, B within 12 of each other and 80..130)."""
    patch = frames[:, 40:56, 24:40].astype(np.int16)
    grey = (np.ptp(patch, axis=-1) <= 12) & (patch.mean(-1) >= 80) & (patch.mean(-1) <= 130)
    return grey.mean(axis=(1, 2)) >= 0.1


def episodes(kind: str, seeds: range) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Frames and coverage of one episode per seed (the same seeding as ``rollout.rollout_task``)."""
    env = make_wm_env("CarRacing-v3")
    frames, stats = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        act = None if kind == "drive" else DataPolicy(env.action_space, kind, SHORT_HOLDS, rng)
        frame, _ = env.reset(seed=seed)
        ep, speeds = [frame], []
        for _ in range(1000):
            a = drive(env) if act is None else act(frame)
            frame, _, term, trunc, _ = env.step(a)
            ep.append(frame)
            speeds.append(float(np.linalg.norm(env.unwrapped.car.hull.linearVelocity)))
            if term or trunc:
                break
        u, arr = env.unwrapped, np.stack(ep)
        frames.append(arr)
        stats.append({
            "steps": len(speeds),
            "tiles": u.tile_visited_count / len(u.track),
            "speed": float(np.mean(speeds)),
            "road": float(road_share(arr).mean()),
        })  # fmt: skip
    env.close()
    return np.concatenate(frames), stats


def train_v(frames: np.ndarray, updates: int, seed: int = 0) -> ConvVAE:
    torch.manual_seed(seed)
    v = ConvVAE(32)
    opt = torch.optim.Adam(v.parameters(), lr=1e-4)
    rng = np.random.default_rng(seed)
    data = torch.from_numpy(frames)
    for _ in range(updates):
        loss, _ = v.loss(data[rng.integers(len(frames), size=100)], kl_tolerance=0.5)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return v.eval()


@torch.no_grad()
def reconstruction(v: ConvVAE, frames: np.ndarray) -> float:
    """Mean summed squared error per frame of V's reconstruction from mu (pixels in [0, 1])."""
    errs = []
    for i in range(0, len(frames), 500):
        x = torch.from_numpy(frames[i : i + 500])
        y = v.decode(v.encode(x)[0])
        errs.append(((y - ConvVAE.to_input(x)) ** 2).sum((1, 2, 3)))
    return float(torch.cat(errs).mean())


def summary(stats: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(float(np.mean([s[k] for s in stats])), 3) for k in stats[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=30, help="training episodes per policy")
    p.add_argument("--drive-episodes", type=int, default=8)
    p.add_argument("--updates", type=int, default=1500, help="V updates (batch 100) per policy")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    t0 = time.perf_counter()
    held_out, drive_stats = episodes("drive", range(DRIVE_SEEDS, DRIVE_SEEDS + a.drive_episodes))
    out: dict[str, Any] = {"episodes": a.episodes, "updates": a.updates,
                           "driver": summary(drive_stats), "policies": {}}  # fmt: skip
    print(f"driver: {out['driver']}", flush=True)
    data = {k: episodes(k, range(a.episodes)) for k in ("random", "reference")}
    for kind, (frames, stats) in data.items():
        n = len(frames) - len(frames) // 10  # the last 10% of each policy's frames: held out
        v = train_v(frames[:n], a.updates)
        out["policies"][kind] = {
            "coverage": summary(stats),
            "per_episode": stats,
            "frames": len(frames),
            "v_loss_on_driving": round(reconstruction(v, held_out), 1),
            "v_loss_on_own_held_out": round(reconstruction(v, frames[n:]), 1),
            "v_loss_on_other_policy": {
                o: round(reconstruction(v, f[len(f) - len(f) // 10 :]), 1)
                for o, (f, _) in data.items()
                if o != kind
            },
        }
        print(kind, {k: x for k, x in out["policies"][kind].items() if k != "per_episode"},
              flush=True)  # fmt: skip
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(out)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
