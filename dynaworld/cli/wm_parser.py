"""``dynaworld worldmodels ...``'s parser: the stages, evaluation, dream GIF, probe, report
(``worldmodels.commands`` runs them)."""

from __future__ import annotations

from typing import Any

from dynaworld.argtypes import non_negative_int, positive_float, positive_int

STAGE_COMMANDS = {
    "collect": "rollouts of data.policy to disk (parallel, resumable)",
    "train-v": "train V (ConvVAE) on the rollouts",
    "encode": "encode every frame with V (mu, logvar)",
    "train-m": "train M (MDN-RNN) on the encoded sequences",
    "train-c": "train C with CMA-ES (real env, or the dream with es.where=dream)",
}


def add_parser(sub: Any) -> None:
    w = sub.add_parser(
        "worldmodels",
        help="World Models (Ha & Schmidhuber 2018): V, M, C, CMA-ES, the dream",
        description="Stages write into one run directory and are skipped once done.",
    )
    ws = w.add_subparsers(dest="wm_command", required=True, metavar="STEP")
    for name, help in {
        "run": "every stage: collect, V, encode, M, C, evaluate",
        **STAGE_COMMANDS,
    }.items():
        p = ws.add_parser(name, help=help)
        p.add_argument("config", nargs="?", help="YAML config (default: RUN_DIR/config.yaml)")
        p.add_argument("overrides", nargs="*", help="key=value, e.g. es.generations=50")
        p.add_argument("--run-dir", required=True, help="the run directory (made or resumed)")
        p.add_argument(
            "--ray", metavar="ADDR", help="evaluate on a Ray cluster ('local' starts one)"
        )
        if name == "run":
            p.add_argument(
                "--from-iteration",
                type=positive_int,
                default=1,
                metavar="K",
                help="keep iterations before K as they are (their C may have other es "
                "settings) and run K.. with these settings, from their C_(K-1) (e.g. made by "
                "'experiment --iteration K-1'; default 1)",
            )
    x = ws.add_parser(
        "experiment", help="one V and M, several controllers (ablations, temperatures), one table"
    )
    x.add_argument("experiment", help="e.g. experiments/doom_temperature.yaml")
    x.add_argument("overrides", nargs="*", help="key=value applied to the base config")
    x.add_argument("--run-dir", required=True, help="the run directory (made or resumed)")
    x.add_argument("--ray", metavar="ADDR", help="run on a Ray cluster ('local' starts one)")
    x.add_argument(
        "--iteration",
        type=positive_int,
        help="train the controllers in M_k's dream, k an iterative run's iteration (default: 1)",
    )
    _add_result_commands(ws)
    _add_dream_commands(ws)
    _add_table_commands(ws)


def _add_result_commands(ws: Any) -> None:
    """evaluate, random, dream, probe, parity and report: what a trained run is worth."""
    e = ws.add_parser("evaluate", help="a trained controller on real episodes -> C_*/eval.json")
    e.add_argument("run_dir", help="a World Models run directory")
    e.add_argument(
        "overrides", nargs="*", help="select the controller, e.g. controller.variant=v_only"
    )
    e.add_argument(
        "--episodes", type=positive_int, help="default: the config's eval_episodes (100)"
    )
    e.add_argument("--ray", metavar="ADDR", help="evaluate on a Ray cluster ('local' starts one)")
    e.add_argument("--iteration", type=positive_int, help="C of iteration k (default: the last)")
    r = ws.add_parser("random", help="the random policy on the same episodes -> random_eval.json")
    r.add_argument("run_dir", help="a World Models run directory")
    r.add_argument(
        "--episodes", type=positive_int, help="default: the config's eval_episodes (100)"
    )
    for p in (e, r):
        p.add_argument(
            "--seeds",
            choices=("validation", "test"),
            default="validation",
            help="episode seeds: 'validation' (seed 1,000,000 + i; for choosing: eval.json) or "
            "'test' (2,000,000,000 + i; final claims only: eval_test.json); default validation",
        )
    d = ws.add_parser("dream", help="a dream rollout decoded by V, as a GIF")
    d.add_argument("run_dir", help="a World Models run directory with V and M")
    d.add_argument("overrides", nargs="*", help="e.g. es.temperature=1.15")
    d.add_argument("--out", help="GIF path (default RUN_DIR/dream.gif)")
    d.add_argument("--steps", type=positive_int, default=300, help="dream steps (default 300)")
    d.add_argument("--random", action="store_true", help="random actions instead of the controller")
    d.add_argument("--iteration", type=positive_int, help="M and C of iteration k (default: last)")
    d.add_argument(
        "--scale", type=positive_int, default=3, help="pixels per frame pixel (default 3)"
    )
    d.add_argument(
        "--every",
        type=positive_int,
        default=1,
        help="keep every n-th step (smaller GIF; default 1)",
    )
    d.add_argument(
        "--beside-real",
        type=int,
        metavar="SEED",
        help="also play C in the real game (this seed) and show it left of the dream",
    )


def _add_dream_commands(ws: Any) -> None:
    """reward-check, probe and parity: the dream against the real game."""
    rc = ws.add_parser(
        "reward-check",
        help="M's reward head on held-out real rollouts against the mean reward: does the "
        "dream's return mean anything? -> reward_check.json",
    )
    rc.add_argument("run_dir", help="a World Models run with V and an M trained with a reward head")
    rc.add_argument(
        "--rollouts", required=True, metavar="DIR",
        help="held-out rollout files (rollout_*.npz) M never trained on, e.g. the data/ of a run "
        "that only collected, with another data.seed",
    )  # fmt: skip
    rc.add_argument("--iteration", type=positive_int, help="M of iteration k (default: the last)")
    rc.add_argument(
        "--window", type=positive_int, default=100, help="steps per summed window (default 100)"
    )
    rc.add_argument(
        "--temperature", type=positive_float, default=1.0,
        help="τ of the open-loop dream (default 1.0)",
    )  # fmt: skip
    rc.add_argument(
        "--seed", type=non_negative_int, default=0, help="the dream's draws (default 0)"
    )
    pr = ws.add_parser(
        "probe",
        help="Doom: 'always no-op/right/left' and random in M's dream vs the real game",
    )
    pr.add_argument("run_dir", help="a Doom World Models run directory with V and M")
    pr.add_argument("overrides", nargs="*", help="e.g. es.temperature=1.15 es.dream_done=sample")
    pr.add_argument("--iteration", type=positive_int, help="M of iteration k (default: the last)")
    pr.add_argument(
        "--episodes", type=positive_int, default=100, help="episodes per policy (default 100)"
    )
    pa = ws.add_parser(
        "parity",
        help="Doom TakeCover: what simple policies survive under each doom_skill (env parity)",
    )
    pa.add_argument("--out", required=True, help="table path without suffix (writes .json, .md)")
    pa.add_argument(
        "--episodes", type=positive_int, default=100, help="episodes per policy (default 100)"
    )
    pa.add_argument(
        "--skill",
        action="append",
        help="doom_skill 1-5, or 'cfg' for take_cover.cfg's own (repeatable; default cfg and 5)",
    )


def _add_table_commands(ws: Any) -> None:
    """log, compare and report: tables of what was run."""
    lg = ws.add_parser("log", help="a controller's CMA-ES log (C_*/log.csv) as a Markdown table")
    lg.add_argument("c_dir", help="a C_* folder, e.g. runs/wm-car/C_full")
    lg.add_argument(
        "--from", dest="first", type=positive_int, default=1, metavar="G",
        help="from generation G (default 1)",
    )  # fmt: skip
    lg.add_argument(
        "--every",
        type=positive_int,
        default=1,
        help="every n-th generation (and every evaluated one; default 1)",
    )
    cmp = ws.add_parser(
        "compare",
        help="settings (C folders pooled) against the first and a target: Welch, one-sample t, Holm",
    )
    cmp.add_argument(
        "settings",
        nargs="+",
        metavar="[NAME=]C_DIR[,C_DIR...]",
        help="one setting: its CMA-ES repeats, comma-separated C folders (or eval.json files)",
    )
    cmp.add_argument("--target", type=float, help="a score to test each setting against, e.g. 750")
    cmp.add_argument("--out", help="also write the table to this Markdown file")
    rep = ws.add_parser("report", help="the lecture's table from runs, beside the paper's numbers")
    rep.add_argument("run_dirs", nargs="+", help="World Models run directories")
    rep.add_argument("--out", help="report.md path (default FIRST_RUN_DIR/report.md)")
