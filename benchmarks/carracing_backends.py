"""CarRacing-v3 for World Models: Gymnasium (pygame/pybox2d) vs envpool (C++), speed and frames.

Both backends as the World Models code sees them: 64x64x3 uint8 frames (HUD cropped, INTER_AREA),
``make_wm_env("CarRacing-v3")`` vs ``make_envpool_carracing()``.

1. speed: steps/s with uniform random actions (``action_space.sample()``), resets included,
   ``--steps`` per backend (2,000 = two full 1,000-step episodes). Those frames also give the
   *unpaired* statistics (each backend on its own tracks): mean colour per channel and the share
   of grass / road / red / white / black pixels (nearest palette colour), with and without the
   first 50 steps of each episode (the zoom-in animation), episode lengths and returns.
2. paired: envpool draws tracks from ``std::mt19937(seed)``; giving Gymnasium's env an
   ``np_random`` that replays that generator (``MT19937Uniform``) makes it build the *same* track,
   so frames can be compared pixel by pixel. Per seed: the reset frame, the first frame after the
   zoom-in (50 no-op steps), then the same random "drive" actions (brake zeroed so the car moves)
   on both, frame difference over time, skid marks (envpool draws them into the observation,
   Gymnasium's "state_pixels" frames never have them); and the reward per tile (1000 / N tiles).
3. physics: a crude pixel lane-following driver drives a whole episode on Gymnasium; its actions
   are replayed open-loop on envpool on the same track (same returns = same physics and rewards).
   Then the driver runs closed-loop on each backend, on a few tracks and with +-2 grey-level
   input noise, to show how much a brittle pixel controller's return moves with tiny pixel
   differences anyway.

    python benchmarks/carracing_backends.py [--steps 2000] [--seeds 0 1 2] [--paired-steps 300]
        [--driver-seeds 0 1 2]

Writes benchmarks/carracing_backends.png (paired frames side by side, and unpaired samples) and
prints one JSON object as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from typing import Any

import cv2
import numpy as np

from dynaworld.envs.envpool_carracing import make_envpool_carracing
from dynaworld.envs.worldmodels import make_wm_env

warnings.filterwarnings("ignore", category=UserWarning)

ZOOM_STEPS = 50  # CarRacing zooms in over the first second (50 frames)
PALETTE = {  # RGB, from CarRacing's source
    "grass": [(102, 204, 102), (102, 230, 102)],
    "road": [(102, 102, 102), (107, 107, 107)],
    "red": [(204, 0, 0), (255, 0, 0)],  # car hull, kerb
    "white": [(255, 255, 255)],  # kerb
    "black": [(0, 0, 0)],  # off the playfield, wheels, envpool's skid marks on road
    "mud": [(102, 102, 0)],  # envpool's skid marks on grass (Gymnasium's frames have none)
}
CLASS_MAX_DIST = 40.0  # farther than this from every palette colour -> "mixed"


class MT19937Uniform:
    """``np_random`` stand-in that replays ``std::mt19937(seed)`` through libstdc++'s
    ``uniform_real_distribution<double>`` (two 32-bit draws per double), as envpool's CarRacing
    does, so Gymnasium's track generator builds envpool's track for that seed."""

    def __init__(self, seed: int) -> None:
        self.rs = np.random.RandomState(seed)  # legacy seeding == std::mt19937's

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> float:
        assert size is None
        lo, hi = self.rs.randint(0, 2**32, size=2, dtype=np.uint32).astype(np.float64)
        c = (lo + hi * 2.0**32) / 2.0**64
        return (high - low) * min(c, np.nextafter(1.0, 0.0)) + low


def classify(frames: np.ndarray) -> dict[str, float]:
    px = frames.reshape(-1, 3).astype(np.float32)
    names, cols = [], []
    for name, cs in PALETTE.items():
        for c in cs:
            names.append(name)
            cols.append(c)
    d = np.linalg.norm(px[:, None, :] - np.asarray(cols, np.float32)[None], axis=2)
    best = d.argmin(1)
    near = d[np.arange(len(px)), best] <= CLASS_MAX_DIST
    out = {n: 0.0 for n in PALETTE}
    for i, n in enumerate(names):
        out[n] += float(np.mean(near & (best == i)))
    out["mixed"] = float(np.mean(~near))
    return {k: round(v, 4) for k, v in out.items()}


def skid_mask(frames: np.ndarray) -> np.ndarray:
    """Pixels that are MUD_COLOR (102, 102, 0) or a blend of it with grass (102, 204|230, 102):
    skid marks on grass. Such blends keep R = 102 and G - B = 102..128 with B well below 102;
    blends of grass with the red car or kerb have R > 102, grass and road have B = R."""
    f = frames.astype(np.int16)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    return (np.abs(r - 102) <= 8) & (b < 80) & (g - b >= 90) & (g - b <= 140)


def colour_stats(frames: np.ndarray) -> dict[str, Any]:
    return {
        "n_frames": len(frames),
        "mean_rgb": [round(float(x), 2) for x in frames.reshape(-1, 3).mean(0)],
        "std_rgb": [round(float(x), 2) for x in frames.reshape(-1, 3).std(0)],
        "classes": classify(frames),
        "share_frames_with_skid_marks": round(
            float((skid_mask(frames).sum((1, 2)) >= 3).mean()), 4
        ),
    }


def speed_run(backend: str, steps: int, seed: int) -> dict[str, Any]:
    env = make_wm_env("CarRacing-v3") if backend == "gymnasium" else make_envpool_carracing()
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    frames, after_zoom, lengths, returns, t_in_ep = [obs], [], [], [], 0
    t0 = time.perf_counter()
    for _ in range(steps):
        obs, _, term, trunc, info = env.step(env.action_space.sample())
        frames.append(obs)
        t_in_ep += 1
        if t_in_ep >= ZOOM_STEPS:
            after_zoom.append(obs)
        if term or trunc:
            lengths.append(int(info["episode"]["l"]))
            returns.append(round(float(info["episode"]["r"]), 2))
            obs, _ = env.reset()
            t_in_ep = 0
    dt = time.perf_counter() - t0
    env.close()
    return {
        "steps_per_s": round(steps / dt, 1),
        "seconds": round(dt, 2),
        "episode_lengths": lengths,
        "episode_returns": returns,
        "all_frames": colour_stats(np.stack(frames)),
        "after_zoom": colour_stats(np.stack(after_zoom)),
        "_samples": [frames[i] for i in (0, 25, 60, 400, min(1500, len(frames) - 1))],
    }


def paired_run(seed: int, steps: int) -> dict[str, Any]:
    gym_env = make_wm_env("CarRacing-v3")
    ep_env = make_envpool_carracing()
    # Gymnasium reset() without a seed keeps this np_random: it builds envpool's track for seed
    gym_env.unwrapped._np_random = MT19937Uniform(seed)  # type: ignore[assignment]
    og, _ = gym_env.reset()
    oe, _ = ep_env.reset(seed=seed)
    n_tiles = len(gym_env.unwrapped.track)  # type: ignore[attr-defined]
    per_tile = 1000.0 / n_tiles
    mad = lambda a, b: float(np.abs(a.astype(np.int16) - b).mean())  # noqa: E731
    out: dict[str, Any] = {
        "seed": seed,
        "n_tiles_gym": n_tiles,
        "mad_reset_frame": round(mad(og, oe), 3),
    }
    rows = [(og, oe)]
    noop = np.zeros(3, np.float32)
    rg, re_ = [], []
    for _ in range(ZOOM_STEPS):
        og, r1, *_ = gym_env.step(noop)
        oe, r2, *_ = ep_env.step(noop)
        rg.append(r1)
        re_.append(r2)
    out["mad_first_frame_after_zoom"] = round(mad(og, oe), 3)
    out["max_abs_diff_first_frame_after_zoom"] = int(np.abs(og.astype(np.int16) - oe).max())
    out["share_pixels_diff_gt_10_after_zoom"] = round(
        float((np.abs(og.astype(np.int16) - oe).max(-1) > 10).mean()), 4
    )
    rows.append((og, oe))
    rng = np.random.default_rng(seed)
    mads, done_at, skid_g, skid_e = [], None, [], []
    for t in range(steps):
        a = np.array([rng.uniform(-1, 1), rng.uniform(0, 1), 0.0], np.float32)  # "drive": no brake
        og, r1, d1, t1, _ = gym_env.step(a)
        oe, r2, d2, t2, _ = ep_env.step(a)
        rg.append(r1)
        re_.append(r2)
        mads.append(mad(og, oe))
        skid_g.append(int(skid_mask(og).sum()))
        skid_e.append(int(skid_mask(oe).sum()))
        if t in (50, steps - 1):
            rows.append((og, oe))
        if d1 or t1 or d2 or t2:
            done_at = t
            break
    rg_a, re_a = np.asarray(rg), np.asarray(re_)
    tiles_g = (rg_a + 0.1) / per_tile  # tiles touched per step; should be whole numbers
    tiles_e = (re_a + 0.1) / per_tile
    out.update(
        {
            "drive_steps": len(mads),
            "ended_early_at": done_at,
            "mad_drive_first10": round(float(np.mean(mads[:10])), 3),
            "mad_drive_mean": round(float(np.mean(mads)), 3),
            "mad_drive_last10": round(float(np.mean(mads[-10:])), 3),
            "first_step_reward": [round(float(rg_a[0]), 4), round(float(re_a[0]), 4)],
            "per_tile_reward_gym": round(per_tile, 4),
            "tiles_per_step_max_dev_from_integer": [
                round(float(np.abs(tiles_g - tiles_g.round()).max()), 4),
                round(float(np.abs(tiles_e - tiles_e.round()).max()), 4),
            ],
            "tiles_visited": [int(tiles_g.round().sum()), int(tiles_e.round().sum())],
            "return": [round(float(rg_a.sum()), 2), round(float(re_a.sum()), 2)],
            "drive_share_frames_with_skid_marks": [
                round(float(np.mean(np.asarray(skid_g) >= 3)), 4),
                round(float(np.mean(np.asarray(skid_e) >= 3)), 4),
            ],
            "drive_mean_skid_pixels_per_frame": [
                round(float(np.mean(skid_g)), 2),
                round(float(np.mean(skid_e)), 2),
            ],
        }
    )
    gym_env.close()
    ep_env.close()
    return {**out, "_rows": rows}


def lane_driver(obs: np.ndarray) -> np.ndarray:
    """A crude pixel controller: steer toward the road's centre in rows 36:44, gas 0.1."""
    band = obs[36:44].astype(np.int16)
    road = (np.abs(band[..., 0] - band[..., 1]) < 12) & (band[..., 0] > 80) & (band[..., 0] < 130)
    cols = np.nonzero(road.any(0))[0]
    cx = cols.mean() if len(cols) else 32.0
    return np.array([np.clip((cx - 32) / 6, -1, 1), 0.1, 0.0], np.float32)


def make_pair_env(backend: str, seed: int) -> tuple[Any, np.ndarray]:
    """Either backend on envpool's track for ``seed``."""
    if backend == "gymnasium":
        env = make_wm_env("CarRacing-v3")
        env.unwrapped._np_random = MT19937Uniform(seed)  # type: ignore[assignment]
        obs, _ = env.reset()
    else:
        env = make_envpool_carracing()
        obs, _ = env.reset(seed=seed)
    return env, obs


def open_loop_replay(seed: int, steps: int = 1000) -> dict[str, Any]:
    """Drive a full episode on Gymnasium with ``lane_driver``, replay the same actions on
    envpool (same track): equal returns and steady frame differences mean equal physics."""
    env, obs = make_pair_env("gymnasium", seed)
    acts, rg, fg = [], [], []
    for _ in range(steps):
        a = lane_driver(obs)
        obs, r, term, trunc, _ = env.step(a)
        acts.append(a)
        rg.append(r)
        fg.append(obs)
        if term or trunc:
            break
    env.close()
    env, obs = make_pair_env("envpool", seed)
    re_, mads = [], []
    for a, og in zip(acts, fg, strict=True):
        obs, r, term, trunc, _ = env.step(a)
        re_.append(r)
        mads.append(float(np.abs(og.astype(np.int16) - obs).mean()))
        if term or trunc:
            break
    env.close()
    cg, ce = np.cumsum(rg), np.cumsum(re_)
    n = min(len(cg), len(ce))
    return {
        "seed": seed,
        "steps": [len(rg), len(re_)],
        "return": [round(float(cg[-1]), 3), round(float(ce[-1]), 3)],
        "max_abs_cum_reward_gap": round(float(np.abs(cg[:n] - ce[:n]).max()), 3),
        "mad_by_step": {str(t): round(mads[t], 2) for t in (50, 250, 500, 750, n - 1) if t < n},
    }


def closed_loop(backend: str, seed: int, noise_seed: int | None = None) -> float:
    """Return of ``lane_driver`` on one backend; optional +-2 grey-level noise on its input."""
    env, obs = make_pair_env(backend, seed)
    rng = np.random.default_rng(noise_seed)
    total = 0.0
    for _ in range(1000):
        if noise_seed is not None:
            obs = np.clip(obs.astype(np.int16) + rng.integers(-2, 3, obs.shape), 0, 255)
        obs, r, term, trunc, _ = env.step(lane_driver(obs))
        total += r
        if term or trunc:
            break
    env.close()
    return round(total, 1)


def save_png(path: str, paired: list[dict[str, Any]], speed: dict[str, dict[str, Any]]) -> None:
    def up(x: np.ndarray) -> np.ndarray:
        return cv2.resize(x, (192, 192), interpolation=cv2.INTER_NEAREST)

    gap = np.full((192, 8, 3), 255, np.uint8)
    lines = []
    # top: per paired seed, rows reset / after zoom / drive +50 / drive end, each
    # Gymnasium | envpool | 4x |difference|; bottom: unpaired samples, Gymnasium over envpool
    for i, p in enumerate(paired[:2]):
        if i:
            lines.append(np.full((16, 192 * 3 + 16, 3), 255, np.uint8))
        for og, oe in p["_rows"]:
            diff = np.clip(np.abs(og.astype(np.int16) - oe) * 4, 0, 255).astype(np.uint8)
            lines.append(np.concatenate([up(og), gap, up(oe), gap, up(diff)], 1))
    paired_img = np.concatenate(lines, 0)
    g, e = speed["gymnasium"]["_samples"], speed["envpool"]["_samples"]
    unpaired = np.concatenate(
        [
            np.concatenate([up(x) for x in g], 1),
            np.full((8, 192 * len(g), 3), 255, np.uint8),
            np.concatenate([up(x) for x in e], 1),
        ],
        0,
    )
    w = max(paired_img.shape[1], unpaired.shape[1])
    pad = lambda im: np.pad(im, ((0, 0), (0, w - im.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    img = np.concatenate([pad(paired_img), np.full((24, w, 3), 255, np.uint8), pad(unpaired)], 0)
    cv2.imwrite(path, img[:, :, ::-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--paired-steps", type=int, default=300)
    ap.add_argument("--driver-seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument(
        "--png", default=os.path.join(os.path.dirname(__file__), "carracing_backends.png")
    )
    args = ap.parse_args()

    load = os.getloadavg()[0]
    speed = {b: speed_run(b, args.steps, seed=0) for b in ("gymnasium", "envpool")}
    paired = [paired_run(s, args.paired_steps) for s in args.seeds]
    replay = open_loop_replay(args.seeds[0])
    driver = {
        b: {
            "returns_per_track": [closed_loop(b, s) for s in args.driver_seeds],
            "track0_returns_with_pixel_noise": [
                closed_loop(b, args.driver_seeds[0], n) for n in (1, 2)
            ],
        }
        for b in ("gymnasium", "envpool")
    }
    save_png(args.png, paired, speed)
    for b, r in speed.items():
        print(
            f"{b:9s} {r['steps_per_s']:8.1f} steps/s  episodes {r['episode_lengths']} returns {r['episode_returns']}"
        )
        print(f"          after-zoom colours {r['after_zoom']}")
    for p in paired:
        print({k: v for k, v in p.items() if not k.startswith("_")})
    print("open-loop replay", replay)
    print("closed-loop lane driver", driver)
    result = {
        "benchmark": "carracing_backends",
        "steps": args.steps,
        "cpu_count": os.cpu_count(),
        "loadavg_1min_at_start": round(load, 2),
        "speed_steps_per_s": {b: r["steps_per_s"] for b, r in speed.items()},
        "speedup": round(speed["envpool"]["steps_per_s"] / speed["gymnasium"]["steps_per_s"], 2),
        "unpaired": {
            b: {k: v for k, v in r.items() if not k.startswith("_")} for b, r in speed.items()
        },
        "paired": [{k: v for k, v in p.items() if not k.startswith("_")} for p in paired],
        "open_loop_replay": replay,
        "closed_loop_lane_driver": driver,
        "png": args.png,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
