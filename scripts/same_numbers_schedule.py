"""Same numbers before and after a change to UPDATEMODEL's scheduling (issue 40): short Dyna runs
with learned models (linear, ensemble, LSTM on CartPole; the pixel model on MinAtar Breakout), their
summaries and every metrics row (wall-clock columns dropped), as one JSON line. Run it against two
checkouts and compare the last lines:

    python scripts/same_numbers_schedule.py OLD_CHECKOUT | tail -1 > before.json
    python scripts/same_numbers_schedule.py . | tail -1 > after.json && cmp before.json after.json
"""

from __future__ import annotations

import csv
import importlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

KEYS = ("eval_return_mean", "agent_updates", "model_transitions", "train_return_100")


def metrics(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if k not in ("wall_time_s", "steps_per_s")} for r in rows]


def main() -> int:
    sys.path.insert(0, sys.argv[1])  # the checkout to measure
    import torch

    torch.set_num_threads(1)
    dynaworld = importlib.import_module("dynaworld")
    runs: list[tuple[str, str, dict[str, Any]]] = [
        (m, "dqn_cartpole", {"total_steps": 1500, "final_eval_episodes": 3}) for m in ("linear", "ensemble", "lstm")
    ] + [("learned", "dqn_minatar_breakout", {"total_steps": 1200, "final_eval_episodes": 2,
                                              "planning__update_rule": "imagined_buffer"})]  # fmt: skip
    out = {}
    with tempfile.TemporaryDirectory() as t:
        for model, config, kw in runs:
            d = Path(t) / model
            dynaworld.train(config, d, eval_every=0, progress=False, replay__learning_starts=200,
                            planning__model=model, planning__shape="5x2",
                            model__updates_per_step=0.5, **kw)  # fmt: skip
            summary = json.loads((d / "summary.json").read_text())
            out[model] = {k: summary[k] for k in KEYS} | {"metrics": metrics(d / "metrics.csv")}
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
