"""Each C_k's virtual score in the dreams of M_(k-1), M_k and M_(k+1): does a collapsed C_k (an
exploit of M_k) survive in the neighbouring models' dreams? 100 dreams each, tau 1.15, sampled deaths."""
import json, sys
import numpy as np, torch
from dynaworld.config import load_config
from dynaworld.worldmodels.config import WorldModelsConfig
from dynaworld.worldmodels.run import Run
from dynaworld.worldmodels import control
from dynaworld.models.dream import dream_returns

R = "/work/runs/wm-doom-iter"
torch.set_num_threads(1)
cfg = load_config(f"{R}/config.yaml", ["es.temperature=1.15", "es.dream_done=sample", "es.seed=0", "iterate.iterations=7"], WorldModelsConfig)
run = Run(cfg, R, record=False)
c = control.controller(run)
K = int(sys.argv[1])
rows = []
for k in range(1, K + 1):
    p = torch.as_tensor(np.load(run.c_dir(k) / "params.npy")[None], dtype=torch.float32)
    row = {"C": k}
    for j in range(max(1, k - 1), min(K, k + 1) + 1):
        env = control.dream_env(run, j, seed=12345)
        r = dream_returns(env, c, p, 100, env.max_steps, mean=False)[0].cpu().numpy()
        row[f"M_{j}"] = [float(r.mean()), float(r.std())]
    rows.append(row); print(row, flush=True)
json.dump(rows, open(f"/work/runs/cross/cross_dream_{K}.json", "w"), indent=1)
