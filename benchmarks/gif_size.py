"""GIF size: ``save_gif`` (one shared palette, only changes stored) against PIL's default writer
(an adaptive palette per frame, what dynaworld 0.1 wrote), on the same frames.

    python benchmarks/gif_size.py RUN_DIR [--steps 300]

The frames are a real rollout of RUN_DIR beside V's reconstruction of it (the layout of
``dynaworld worldmodels dream --beside-real``), scaled ×3. Final line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch
from PIL import Image

from dynaworld.models.vae import to_uint8
from dynaworld.studies.worldmodels.figures import beside, save_gif
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.rollout import load_v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args()
    run = Path(a.run_dir)
    files = wmdata.rollout_files(run / "data")
    rollout = next(f for f in files if wmdata.rollout_steps(f) >= a.steps)
    real = wmdata.load_npz(rollout)["frames"][: a.steps]
    v = load_v(run / "vae.pt", "cpu")
    with torch.no_grad():
        recon = to_uint8(v.decode(v.encode(torch.from_numpy(real))[0]))
    frames = beside(list(real), list(recon))
    out = tempfile.mkdtemp()
    old = Path(out) / "default.gif"
    imgs = [Image.fromarray(f).resize((f.shape[1] * 3, f.shape[0] * 3), Image.Resampling.NEAREST)
            for f in frames]  # fmt: skip
    imgs[0].save(old, save_all=True, append_images=imgs[1:], duration=50, loop=0)
    new = save_gif(frames, Path(out) / "shared_palette.gif", captions=["real", "V's recon"])
    sizes = {"frames": len(frames), "default_bytes": old.stat().st_size,
             "save_gif_bytes": new.stat().st_size}  # fmt: skip
    sizes["ratio"] = round(sizes["save_gif_bytes"] / sizes["default_bytes"], 4)
    print(json.dumps(sizes))


if __name__ == "__main__":
    main()
