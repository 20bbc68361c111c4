"""The constant-action probe: how long 'always no-op / right / left' (and uniform random) survive
in M's dream against the real game. A constant action that survives far longer in the dream than
in the game is a hole in M that CMA-ES can exploit (Doom TakeCover)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dynaworld.errors import DynaworldError
from dynaworld.files import read_json, write_text
from dynaworld.models.dream import dream_scores
from dynaworld.runlog import write_json
from dynaworld.studies.worldmodels.parity import LEFT, NOOP, RIGHT, survival
from dynaworld.worldmodels import control
from dynaworld.worldmodels.run import EVAL_SEED, WorldModelsRun

ACTIONS = {"noop": NOOP, "right": RIGHT, "left": LEFT, "random": None}


def real_survival(run: WorldModelsRun, episodes: int) -> dict[str, list[float]]:
    """Each probe policy's real scores on the evaluation seeds (computed once per run folder)."""
    path = run.dir / f"probe_real_{episodes}.json"
    if path.exists():
        return read_json(path, "probe file")["scores"]
    skill = run.cfg.env.doom_skill
    scores = {name: survival(skill, name, episodes, EVAL_SEED).tolist() for name in ACTIONS}
    write_json(path, {"doom_skill": skill, "seeds": f"{EVAL_SEED} + episode", "scores": scores})
    return scores


def dream_survival(run: WorldModelsRun, k: int, episodes: int) -> dict[str, list[float]]:
    """Each probe policy's scores in M_k's dream at the run's temperature and death rule."""
    env = control.dream_env(run, k, seed=EVAL_SEED)
    out = {}
    for name, action in ACTIONS.items():
        gen = torch.Generator(device=env.device).manual_seed(EVAL_SEED)

        def act(
            x: torch.Tensor, rows: torch.Tensor, a: int | None = action, g: torch.Generator = gen
        ) -> torch.Tensor:
            if a is None:
                return torch.randint(3, (len(x),), device=env.device, generator=g)
            return torch.full((len(x),), a, dtype=torch.long, device=env.device)

        out[name] = dream_scores(env, act, episodes, env.max_steps).cpu().numpy().tolist()
    return out


def probe(run: WorldModelsRun, k: int, episodes: int = 100) -> dict[str, Any]:
    """Write ``iter<k>/probe_tau<t>_<rule>.json`` and ``.md``: each policy in the dream and the game."""
    if not run.doom:
        raise DynaworldError("the constant-action probe is for Doom TakeCover's discrete actions")
    real, dream = real_survival(run, episodes), dream_survival(run, k, episodes)
    es = run.cfg.es
    rows = [
        {
            "policy": name, "dream_mean": float(np.mean(dream[name])),
            "dream_std": float(np.std(dream[name])), "real_mean": float(np.mean(real[name])),
            "real_std": float(np.std(real[name])),
        }
        for name in ACTIONS
    ]  # fmt: skip
    out = {
        "iteration": k, "temperature": es.temperature, "dream_done": es.dream_done,
        "episodes": episodes, "m": str(run.m_path(k)), "rows": rows, "dream": dream, "real": real,
    }  # fmt: skip
    path = run.iteration_dir(k) / probe_file(es.temperature, es.dream_done)
    write_json(path, out)
    write_text(path.with_suffix(".md"), table(out))
    return {"path": str(path), "rows": rows}


def probe_file(temperature: float, dream_done: str) -> str:
    """The probe's file name at ``temperature`` and death rule (``probe_tau1.15_sample.json``)."""
    return f"probe_tau{temperature:g}_{dream_done}.json"


def table(out: dict[str, Any]) -> str:
    lines = [
        f"Iteration {out['iteration']}: M at τ = {out['temperature']:g} (deaths: "
        f"{out['dream_done']}), {out['episodes']} dreams and {out['episodes']} real episodes "
        "per policy; steps survived, mean ± std.",
        "",
        "| policy | in the dream | in the game | dream / game |",
        "|---|---|---|---|",
    ]
    for r in out["rows"]:
        ratio = r["dream_mean"] / max(r["real_mean"], 1e-9)
        lines.append(
            f"| {r['policy']} | {r['dream_mean']:.0f} ± {r['dream_std']:.0f} | "
            f"{r['real_mean']:.0f} ± {r['real_std']:.0f} | {ratio:.2f} |"
        )
    return "\n".join(lines) + "\n"
