"""Same numbers before and after a change to World Models' run (issue 40): a tiny seeded
CarRacing run with K = 2 (dream-trained C with reward head; iteration 2 collected by C_1 with
exploration) and the train-c stage of a second C setting, printed as one JSON of digests — every
rollout file, V's and each M's weights, each C's params and CMA-ES log, each eval's returns.
Run it from two checkouts (``PYTHONPATH`` set to each) and compare the files:

    python scripts/same_numbers_worldmodels.py > after.json   # (old checkout: before.json)
    cmp before.json after.json
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

SETTINGS = [
    "env.id=CarRacing-v3", "env.max_episode_steps=60", "data.rollouts=3", "data.max_steps=60",
    "data.workers=1", "vae.epochs=1", "vae.batch_size=16", "vae.z_dim=8", "mdn.seq_len=10",
    "mdn.batch_size=4", "mdn.steps=5", "mdn.hidden=16", "mdn.reward_head=true",
    "controller.variant=full", "es.where=dream", "es.popsize=4", "es.rollouts=2",
    "es.generations=2", "es.max_steps=40", "es.eval_every=2", "es.eval_rollouts=4",
    "eval_episodes=2", "es.workers=1", "iterate.iterations=2", "iterate.rollouts=2",
    "iterate.epsilon=0.2", "iterate.mdn_steps=3",
]  # fmt: skip


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def arrays(path: Path) -> str:
    with np.load(path) as f:
        return digest(b"".join(k.encode() + f[k].tobytes() for k in sorted(f.files)))


def weights(path: Path) -> str:
    w = torch.load(path, weights_only=True)["weights"]
    return digest(b"".join(k.encode() + w[k].numpy().tobytes() for k in sorted(w)))


def main() -> int:
    from dynaworld.config import load_config
    from dynaworld.worldmodels.config import WorldModelsConfig
    from dynaworld.worldmodels.pipeline import Pipeline

    out: dict = {}
    with tempfile.TemporaryDirectory() as t, contextlib.redirect_stdout(sys.stderr):
        d = Path(t) / "run"
        cfg = load_config(None, SETTINGS, WorldModelsConfig)
        Pipeline(cfg, d, progress=False).run()
        other = load_config(None, SETTINGS + ["es.temperature=0.5"], WorldModelsConfig)
        Pipeline(other, d, progress=False, record=False).run(["train_c", "evaluate"])
        for f in sorted(d.rglob("*")):
            name = str(f.relative_to(d))
            if f.suffix == ".npz" and "/tb" not in name:
                out[name] = arrays(f)
            elif f.name in ("vae.pt", "mdn.pt"):
                out[name] = weights(f)
            elif f.name == "params.npy":
                out[name] = digest(np.load(f).tobytes())
            elif f.name in ("eval.json", "meta.json"):
                out[name] = json.loads(f.read_text())
            elif f.name == "log.csv":
                rows = f.read_text().splitlines()
                head = rows[0].split(",")
                keep = [i for i, h in enumerate(head) if "time" not in h and "seconds" not in h]
                out[name] = [",".join(r.split(",")[i] for i in keep) for r in rows]
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
