"""The two-model branch's C_k against the one-model chain's C_k and the random policy (Welch,
two-sided, on the 100 real episodes of each), from the committed eval.json files:
    python docs/results/doom_dream/branch_models2/compare.py  ->  compare.json, a markdown table
"""

import json
from pathlib import Path

import numpy as np

from dynaworld.experiments.stats import welch_p

HERE = Path(__file__).parent
CHAIN = HERE.parent / "iterative"
C = "C_full_dream_tau1.15_sampled"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


rand = load(CHAIN / "random_eval.json")
rows = []
for k in (4, 5, 6, 7):
    two = (HERE if k > 4 else CHAIN) / f"iter{k}" / f"{C}_models2" / "eval.json"
    one = CHAIN / f"iter{k}" / C / "eval.json"
    if not two.exists():
        continue
    t, o = load(two), load(one)
    rows.append({
        "k": k,
        "two_models": [t["mean"], t["std"], float(np.median(t["returns"])),
                       float(np.mean(np.array(t["returns"]) >= 750))],
        "virtual": [t["virtual_mean"], t["virtual_std"]],
        "one_model": [o["mean"], o["std"]],
        "p_vs_one_model": welch_p(t["returns"], o["returns"]),
        "p_vs_random": welch_p(t["returns"], rand["returns"]),
    })  # fmt: skip
(HERE / "compare.json").write_text(json.dumps({"random": [rand["mean"], rand["std"]], "rows": rows}, indent=1))
print("| k | two models: actual | median | ≥ 750 | virtual | one model's C_k | vs one model: Welch p | vs random: Welch p |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    (m, s, med, solved), (vm, vs), (om, os_) = r["two_models"], r["virtual"], r["one_model"]
    print(f"| {r['k']} | {m:.1f} ± {s:.1f} | {med:.0f} | {solved:.0%} | {vm:.0f} ± {vs:.0f} | "
          f"{om:.1f} ± {os_:.1f} | {r['p_vs_one_model']:.2g} | {r['p_vs_random']:.2g} |")
