"""Same numbers before and after a change to UPDATEMODEL's scheduling (issue 40): short Dyna runs
with learned models (linear, ensemble, LSTM on CartPole; the pixel model on MinAtar Breakout), their
summaries and every metrics row (wall-clock columns dropped), as one JSON line. Run it against two
checkouts and compare the last lines:

    python scripts/same_numbers_schedule.py OLD_CHECKOUT | tail -1 > before.json
    python scripts/same_numbers_schedule.py . | tail -1 > after.json && cmp before.json after.json
"""

import json
import sys
import tempfile

root = sys.argv[1]
sys.path.insert(0, root)
import torch

torch.set_num_threads(1)
import csv

import dynaworld


def metrics(path):
    rows = list(csv.DictReader(open(path)))
    return [{k: v for k, v in r.items() if k not in ("wall_time_s", "steps_per_s")} for r in rows]


out = {}
with tempfile.TemporaryDirectory() as t:
    for model in ("linear", "ensemble", "lstm"):
        run = dynaworld.train(
            "dqn_cartpole",
            f"{t}/{model}",
            total_steps=1500,
            eval_every=0,
            final_eval_episodes=3,
            progress=False,
            replay__learning_starts=200,
            planning__model=model,
            planning__shape="5x2",
            model__updates_per_step=0.5,
        )
        s = json.load(open(f"{t}/{model}/summary.json"))
        out[model] = {
            k: s[k]
            for k in ("eval_return_mean", "agent_updates", "model_transitions", "train_return_100")
        }
        out[model]["metrics"] = metrics(f"{t}/{model}/metrics.csv")
    run = dynaworld.train(
        "dqn_minatar_breakout",
        f"{t}/learned",
        total_steps=1200,
        eval_every=0,
        final_eval_episodes=2,
        progress=False,
        replay__learning_starts=200,
        planning__model="learned",
        planning__shape="5x2",
        planning__update_rule="imagined_buffer",
        model__updates_per_step=0.5,
    )
    s = json.load(open(f"{t}/learned/summary.json"))
    out["learned"] = {
        k: s[k]
        for k in ("eval_return_mean", "agent_updates", "model_transitions", "train_return_100")
    }
    out["learned"]["metrics"] = metrics(f"{t}/learned/metrics.csv")
print(json.dumps(out, sort_keys=True))
