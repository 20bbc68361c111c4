"""Does the dream's return mean anything? M's reward head on held-out real rollouts.

Each held-out rollout's frames are encoded by the run's V (z = mu); then, beside a constant
predictor (the mean reward of M's training rollouts, the trivial baseline):

* **per step, teacher-forced**: M reads the real z_0..z_t and actions a_0..a_t; its reward head
  predicts r_t (squared and absolute error, correlation);
* **per window** of ``window`` steps (non-overlapping, whole windows only): the predicted sum of
  rewards against the real one, teacher-forced, and *open-loop* — M warmed on the real prefix,
  then dreaming the window on the real actions, each z drawn from M at ``temperature``: what a
  controller trained in the dream is scored on.

    dynaworld worldmodels reward-check RUN_DIR --rollouts HELD_OUT_DATA_DIR [--window 100]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynaworld.errors import DynaworldError
from dynaworld.models.mdnrnn import MDNRNN
from dynaworld.runlog import write_json
from dynaworld.worldmodels import data as wmdata
from dynaworld.worldmodels.fit import encode_frames, encoded_files
from dynaworld.worldmodels.rollout import load_m, load_v
from dynaworld.worldmodels.run import WorldModelsRun


@torch.no_grad()
def reward_check(
    run: WorldModelsRun,
    rollouts: list[Path],
    k: int = 1,
    window: int = 100,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict[str, Any]:
    """The check for M_k on ``rollouts`` (rollout files M never trained on); writes
    ``reward_check.json`` into iteration k's folder and returns it."""
    if not rollouts:
        raise DynaworldError("reward-check needs held-out rollout files (rollout_*.npz)")
    v, m = load_v(run.dir / "vae.pt"), load_m(run.m_path(k))
    if m.reward is None:
        raise DynaworldError(f"M of iteration {k} has no reward head: train it with mdn.reward_head=true")  # fmt: skip
    trained = [wmdata.load_npz(f, ("rewards",))["rewards"] for f in encoded_files(run, k)]
    mean = float(np.concatenate(trained).astype(np.float64).mean())
    real, tf, starts = [], [], []  # per-step rewards; window starts: (z, h, c, actions, real sum)
    for f in rollouts:
        r = wmdata.load_npz(f)
        z = torch.from_numpy(encode_frames(v, r["frames"])[0])
        a = torch.from_numpy(r["actions"]).float()
        heads, _ = m(z[None, :-1], a[None])
        real.append(r["rewards"].astype(np.float64))
        tf.append(heads["reward"][0].double().numpy())
        h = c = torch.zeros(1, 1, m.hidden)  # M's state after the real prefix, window by window
        for s in range(0, len(a) - window + 1, window):
            starts.append((z[s], h[0, 0], c[0, 0], a[s : s + window], float(r["rewards"][s : s + window].sum())))  # fmt: skip
            h, c = m(z[None, s : s + window], a[None, s : s + window], (h, c))[1]
    actual, predicted = np.concatenate(real), np.concatenate(tf)
    out: dict[str, Any] = {
        "iteration": k, "rollouts": len(rollouts), "steps": len(actual), "window": window,
        "temperature": temperature, "seed": seed, "baseline_reward": mean,
        "per_step": _errors(actual, predicted, np.full_like(actual, mean)),
    }  # fmt: skip
    if starts:
        sums = np.array([s[4] for s in starts])
        tf_sums = np.array([p[i : i + window].sum() for p in tf for i in range(0, len(p) - window + 1, window)])  # fmt: skip
        dreamt = _dream(m, starts, temperature, seed)
        out["windows"] = len(starts)
        out["window_sum"] = {
            "actual_mean": float(sums.mean()),
            "teacher_forced": _errors(sums, tf_sums, np.full_like(sums, mean * window)),
            "open_loop": _errors(sums, dreamt, np.full_like(sums, mean * window)),
        }
    write_json(run.iteration_dir(k) / "reward_check.json", out)
    return out


def _dream(m: MDNRNN, starts: list[tuple[Any, ...]], temperature: float, seed: int) -> np.ndarray:
    """Each window's predicted reward sum, M dreaming it on the real actions (batched)."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.stack([s[0] for s in starts])
    state = (torch.stack([s[1] for s in starts]), torch.stack([s[2] for s in starts]))
    actions = torch.stack([s[3] for s in starts])  # (W, window, A)
    total = torch.zeros(len(starts), dtype=torch.float64)
    for t in range(actions.shape[1]):
        heads, state = m.step(z, actions[:, t], state)
        total += heads["reward"].double()
        z = MDNRNN.sample(heads, temperature, gen)
    return total.numpy()


def _errors(actual: np.ndarray, pred: np.ndarray, baseline: np.ndarray) -> dict[str, float]:
    """M's and the constant baseline's squared and absolute errors, and M's correlation."""
    ok = actual.std() > 0 and pred.std() > 0
    corr = float(np.corrcoef(actual, pred)[0, 1]) if ok else float("nan")
    return {
        "m_mse": float(((pred - actual) ** 2).mean()),
        "baseline_mse": float(((baseline - actual) ** 2).mean()),
        "m_mae": float(np.abs(pred - actual).mean()),
        "baseline_mae": float(np.abs(baseline - actual).mean()),
        "m_corr": corr,
    }


def table(out: dict[str, Any]) -> str:
    """The check as a Markdown table: M against the constant baseline."""
    rows = [("reward per step (teacher-forced)", out["per_step"])]
    if "window_sum" in out:
        w = out["window"]
        rows += [
            (f"sum over {w} steps, teacher-forced", out["window_sum"]["teacher_forced"]),
            (
                f"sum over {w} steps, open-loop dream (τ {out['temperature']:g})",
                out["window_sum"]["open_loop"],
            ),  # fmt: skip
        ]
    lines = ["| what | M MAE | baseline MAE | M MSE | baseline MSE | M corr |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, e in rows:
        lines.append(f"| {name} | {e['m_mae']:.3f} | {e['baseline_mae']:.3f} | {e['m_mse']:.3f} | "
                     f"{e['baseline_mse']:.3f} | {e['m_corr']:.2f} |")  # fmt: skip
    return "\n".join(lines) + (
        f"\n\n{out['rollouts']} held-out rollouts, {out['steps']} steps, "
        f"{out.get('windows', 0)} windows; baseline: the mean reward of M's training data "
        f"({out['baseline_reward']:.3f} a step).\n"
    )
