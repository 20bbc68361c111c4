"""The World Models report (``report.md``) from our runs, beside the paper's numbers.

CarRacing: random policy, V only, V + hidden layer, full World Model (real tracks, mean ± std).
Doom: the temperature table (``doom_table``), its charts, and per iterative run its iterations.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dynaworld.agents.cmaes import read_log
from dynaworld.config import load_yaml
from dynaworld.envs.frames import DOOM
from dynaworld.errors import DynaworldError
from dynaworld.files import read_json, write_text
from dynaworld.studies.stats import cell, holm, welch_p
from dynaworld.studies.worldmodels import anchors
from dynaworld.studies.worldmodels.death_rule import block_of, both_rules, death_rule_chart
from dynaworld.studies.worldmodels.doom_table import PAPER_DOOM, doom_table, mean_std
from dynaworld.studies.worldmodels.figures import (
    curve_vs_reference,
    es_curve,
    figure_path,
    temperature_chart,
)
from dynaworld.studies.worldmodels.iterations import (
    actual_cell,
    gap_chart,
    iterations_table,
)
from dynaworld.worldmodels.run import eval_check, iteration_of

PAPER_CAR = {"random": None, "v_only": (632, 251), "v_hidden": (788, 141), "full": (906, 21)}
LABEL_CAR = {
    "random": "random policy",
    "v_only": "V model only, z input",
    "v_hidden": "V model only, z input, hidden layer",
    "full": "full World Model, z and h",
}
PROBE_NOTE = (
    "Probe: steps survived by always no-op / right / left in M_k's dream (at C's τ and death "
    "rule) / in the real game, 100 episodes each (`dynaworld worldmodels probe RUN --iteration "
    "k`). Welch's test of each C_k against the random policy, Holm over the iterations."
)

CHECK_NOTE = {  # after a file in the report's list of sources (run.eval_check)
    "": "",
    "stale": " — **stale**: C was trained on after it; run evaluate",
    "unchecked": " — params.npy absent: which C it scored cannot be checked",
}


def _evals(run_dirs: list[Path]) -> list[dict[str, Any]]:
    out = []
    for d in run_dirs:
        rand = d / "random_eval.json"
        if not rand.exists() and iteration_of(d) is not None:  # iter<k>/: the run's, the same game
            rand = d.parent / "random_eval.json"
        scored = sorted(d.glob("C_*/eval.json")) + sorted(d.glob("C_*/eval_test.json"))
        randoms = [r for r in (rand, rand.with_name("random_eval_test.json")) if r.exists()]
        for p in scored + randoms:
            e = read_json(p, "controller evaluation")
            e.setdefault("block", "validation")
            e["path"] = str(p)
            e["check"] = eval_check(e, p.parent)  # 'stale': the number is not this C's
            out.append(e)
        out += [n for n in _noop(rand.parent) if n["path"] not in {e["path"] for e in out}]
    return out


def _noop(d: Path) -> list[dict[str, Any]]:
    """Doom's 'always no-op' on the evaluation episodes, from the probe's real-game file."""
    for p in sorted(d.glob("probe_real_*.json"))[-1:]:
        scores = read_json(p, "probe's real-game scores")["scores"]["noop"]
        m = sum(scores) / len(scores)
        std = (sum((x - m) ** 2 for x in scores) / len(scores)) ** 0.5
        noop = {"variant": "noop", "episodes": len(scores), "mean": m, "std": std}
        return [noop | {"path": str(p), "check": ""}]
    return []


def _training(dirs: list[Path], evals: list[dict[str, Any]]) -> dict[Path, dict[str, Any]]:
    """C folders with a CMA-ES ``log.csv``, finished or still training: their eval.json, else
    the settings their ``config.yaml`` records (variant, where, temperature)."""
    scored = {Path(e["path"]).parent: e for e in evals}
    out = {}
    for log in sorted(p for d in dirs for p in d.glob("C_*/log.csv")):
        f = log.parent
        if f not in scored:
            cfg = load_yaml(f / "config.yaml") if (f / "config.yaml").exists() else {}
            es = cfg.get("es", {})
            dream = es.get("where") == "dream"
            out[f] = {
                "variant": cfg.get("controller", {}).get("variant", f.name),
                "where": es.get("where"),
                "temperature": es.get("temperature") if dream else None,
                "es_seed": es.get("seed"),
            }
        else:
            out[f] = scored[f]
    return out


def report(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """``report.md`` (or ``out``) with the tables and figures of the runs' controllers; a C still
    training (``log.csv``, no eval.json yet) is drawn in the figures."""
    dirs = [Path(d) for d in run_dirs]
    evals = _evals(dirs)
    runs = _training(dirs, evals)
    if not evals and not runs:
        raise DynaworldError(
            f"no eval.json and no CMA-ES log.csv under {', '.join(map(str, dirs))}: run "
            "'dynaworld worldmodels train-c' and 'evaluate' first"
        )
    doom = any(e.get("where") == "dream" for e in [*evals, *runs.values()])
    lines = ["# World Models: our runs beside the paper (Ha & Schmidhuber 2018)", ""]
    if not evals:
        lines.append("No controller has been evaluated yet (`dynaworld worldmodels evaluate`).")
    else:
        lines += doom_table(evals) if doom else car_table(evals)
        lines += ["", "Paper numbers are the paper's (100 episodes); ours come from:", ""]
    target = Path(out) if out else dirs[0] / "report.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    lines += [  # relative to the report, so a copied run folder's report stays true
        f"- `{os.path.relpath(e['path'], target.parent)}`" + CHECK_NOTE[e.get("check", "")]
        for e in evals
    ]
    if doom:
        lines += _doom_figures(dirs, evals, target)
    lines += _curves(runs, doom, target)
    write_text(target, "\n".join(lines) + "\n")
    return target


def _doom_figures(dirs: list[Path], evals: list[dict[str, Any]], target: Path) -> list[str]:
    """The temperature chart, and per iterative run its iterations table and gap chart."""
    lines: list[str] = []
    if evals:
        bars = temperature_chart(evals, figure_path(target, "temperature"), PAPER_DOOM)
        lines += ["", f"![virtual vs actual score per temperature]({bars.name})"]
    if both_rules(evals):
        gaps = death_rule_chart(evals, figure_path(target, "death_rule"), PAPER_DOOM)
        lines += ["", f"![the exploitation gap under both death rules]({gaps.name})"]
    rand = next(
        (e for e in evals if e["variant"] == "random" and block_of(e) == "validation"), None
    )
    for d in dirs:  # the iterative procedure (K > 1): C_k and M_k's probe per iteration
        table = iterations_table(d, rand if rand and Path(rand["path"]).parent == d else None)
        chart = gap_chart(d, figure_path(target, f"iterations_{d.name}"))
        if table and chart:
            lines += ["", "## The iterations (Algorithm 1, K > 1)", "", *table]
            lines += [PROBE_NOTE, "", f"![the gap over the iterations]({chart.name})"]
    return lines


def _curves(runs: dict[Path, dict[str, Any]], doom: bool, target: Path) -> list[str]:
    """CMA-ES curves of every C folder; for CarRacing the longest full model beside the
    published runs."""
    folders = sorted(runs, key=lambda f: (runs[f].get("temperature") or 0, str(f)))
    if not folders:
        return []
    names = curve_labels(folders, runs, doom)
    lines = ["", f"![CMA-ES]({es_curve(folders, figure_path(target, 'cmaes'), names).name})"]
    full = [f for f in folders if not doom and runs[f]["variant"] == "full"]
    if full:  # the full-model runs beside the published CMA-ES curves, longest first
        full.sort(key=lambda f: -len(read_log(f)))
        curves = {f.name: (f, _cores(f)) for f in full}
        curve = curve_vs_reference(curves, figure_path(target, "curve_vs_reference"))
        lines += ["", f"![CMA-ES against the published runs]({curve.name})"]
    return lines


def curve_labels(folders: list[Path], runs: dict[Path, dict[str, Any]], doom: bool) -> list[str]:
    """One legend label per C folder: its temperature (Doom) or variant, and where two runs
    share that, its CMA-ES seed (and iteration) or folder name."""
    names = [
        f"τ = {runs[f]['temperature']:g} ({runs[f].get('where', 'dream')})"
        if doom and runs[f].get("temperature") is not None
        else LABEL_CAR.get(runs[f]["variant"], runs[f]["variant"])
        for f in folders
    ]
    return [
        f"{n}, {_which(f, runs[f])}" if names.count(n) > 1 else n
        for n, f in zip(names, folders, strict=True)
    ]


def _which(folder: Path, e: dict[str, Any]) -> str:
    """What tells apart runs of one setting: es.seed, and the iteration folder when not 1."""
    where = f"{folder.parent.name}/" if iteration_of(folder.parent) is not None else ""
    return where + (f"es.seed {e['es_seed']}" if e.get("es_seed") is not None else folder.name)


def _cores(folder: Path) -> int:
    """The cores a C's CMA-ES ran on (``cores.json``; 1 when not recorded)."""
    path = folder / "cores.json"
    return int(read_json(path, "cores").get("cores", 1)) if path.exists() else 1


def _budget(e: dict[str, Any]) -> str:
    """'64 × 16, 25 gen.' ('16 × 4 → 16 from gen. 60, 200 gen.' with es.rollouts_from): CMA-ES
    population x rollouts and generations (older eval.json: '')."""
    b = e.get("budget")
    if not b:
        return ""
    later = "".join(f" → {r} from gen. {g}" for g, r in b.get("rollouts_from", []))
    return f"{b['popsize']} × {b['rollouts']}{later}, {b['generations']} gen."


def car_table(evals: list[dict[str, Any]]) -> list[str]:
    """One row per run directory, variant, CMA-ES budget and evaluation block (the test block's
    row first: tracks never used to choose anything). Repeats (``es.seed``:
    ``C_<variant>_seed<N>``) share a row: the per-seed means, their mean with a 95% bootstrap CI
    over seeds, and Welch's test on the per-seed means for each pair of variants (the paper's
    ordering), Holm-corrected."""
    order = {k: i for i, k in enumerate(PAPER_CAR)}
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for e in sorted(evals, key=lambda e: (order.get(e["variant"], 9), e["block"] != "test", e["path"])):  # fmt: skip
        run = str(
            Path(e["path"]).parent.parent if e["variant"] != "random" else Path(e["path"]).parent
        )
        block = f" ({e['block']} block)"
        rows.setdefault((run, e["variant"], _budget(e) + block), []).append(e)
    several = len({run for run, _, _ in rows}) > 1
    lines = [
        "| method | ours: real-track mean ± std, per CMA-ES seed | over seeds: mean [95% CI] "
        "| episodes | paper |",
        "|---|---|---|---|---|",
    ]
    for (run, variant, budget), es in rows.items():
        pc, label = PAPER_CAR.get(variant), LABEL_CAR.get(variant, variant)
        label += f", {budget}" if budget else ""
        label += f" (`{Path(run).name}`)" if several else ""
        means = [e["mean"] for e in es]
        lines.append(
            f"| {label} | {'; '.join(actual_cell(e) for e in es)} | {cell(means, digits=0)} | "
            f"{es[0]['episodes']} | {mean_std(*pc) if pc else '—'} |"
        )
    pairs = [
        (a, b, rows[a], rows[b])
        for a in rows
        for b in rows
        if a[0] == b[0] and a[2] == b[2] and order.get(a[1], 9) > order.get(b[1], 9) > 0
        and len(rows[a]) > 1
        and len(rows[b]) > 1
    ]  # fmt: skip
    if not pairs:
        return lines
    ps = [welch_p([e["mean"] for e in x], [e["mean"] for e in y]) for _, _, x, y in pairs]
    lines += [
        "",
        "| comparison (per-seed means) | difference | Welch p | Holm p |",
        "|---|---|---|---|",
    ]
    for (a, b, x, y), p, h in zip(pairs, ps, holm(ps), strict=True):
        diff = sum(e["mean"] for e in x) / len(x) - sum(e["mean"] for e in y) / len(y)
        lines.append(
            f"| {LABEL_CAR[a[1]]} vs {LABEL_CAR[b[1]]}{', ' + a[2] if a[2] else ''} | "
            f"{diff:+.0f} | {p:.2g} | {h:.2g} |"
        )
    return lines


def log_table(folder: str | Path, first: int = 1, every: int = 1) -> list[str]:
    """A C folder's CMA-ES ``log.csv`` as a Markdown table: generations ``first``.. (every
    ``every``-th, and every evaluated one), population mean, best candidate, σ, the evaluation
    of the mean on ``es.eval_rollouts`` held-out episodes, wall time; CarRacing runs also get the
    reference's logged population mean."""
    folder = Path(folder)
    rows = read_log(folder)
    cfg = load_yaml(folder / "config.yaml") if (folder / "config.yaml").exists() else {}
    n, car = cfg.get("es", {}).get("eval_rollouts", "?"), cfg.get("env", {}).get("id") != DOOM
    head = ["generation", "population mean", "best candidate", "σ",
            f"mean of C on {n} held-out episodes", "wall time (s, cumulative)"]  # fmt: skip
    head[5:5] = ["reference: population mean"] if car else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        g = int(r["generation"])
        if g < first or (g % every and not r["eval_mean"]):
            continue
        ev = f"{float(r['eval_mean']):.1f} ± {float(r['eval_std']):.1f}" if r["eval_mean"] else "–"
        ref = anchors.REFERENCE_POP_MEAN.get(g)
        cells = [str(g), f"{float(r['fitness_mean']):.1f}", f"{float(r['fitness_best']):.1f}",
                 f"{float(r['sigma']):.3f}", ev, f"{float(r['wall_time_s']):,.0f}"]  # fmt: skip
        cells[5:5] = ([f"{ref:.1f}" if ref is not None else "–"]) if car else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines
