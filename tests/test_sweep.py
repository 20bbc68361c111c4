"""Sweeps (process pool and Ray) and reports."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from dynaworld.runlog import read_csv
from dynaworld.studies.report import human_normalised
from tests.conftest import ROOT

TINY = [
    "total_steps=600",
    "replay.learning_starts=200",
    "eval_every=300",
    "eval_episodes=2",
    "final_eval_episodes=2",
    "checkpoint_every=300",
]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_tiny_planning_shape_sweep_has_every_method_and_resumes(cli, tmp_path):
    out = tmp_path / "sweep"
    args = [
        "sweep",
        str(ROOT / "experiments/planning_shape.yaml"),
        *TINY,
        "--out",
        str(out),
        "--seeds",
        "1",
        "--suite",
        "minatar",
        "--game",
        "Breakout",
        "--workers",
        "2",
    ]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    res = rows(out / "results.csv")
    assert {x["method"] for x in res} == {
        "dqn",
        "dqn_extra",
        "dyna_100x1",
        "rollout_33x3",
        "rollout_10x10",
        "rollout_1x100",
    }
    by = {x["method"]: x for x in res}
    assert by["dyna_100x1"]["shape"] == "100x1" and by["rollout_10x10"]["model"] == "perfect"
    assert int(by["dqn_extra"]["agent_updates"]) == int(by["rollout_10x10"]["agent_updates"])
    assert int(by["rollout_1x100"]["model_transitions"]) == 100 * (600 - 200) // 4
    assert all(int(x["env_steps"]) == 600 for x in res)

    r = cli("report", str(out))
    assert r.returncode == 0, r.stderr
    md = (out / "report.md").read_text()
    assert "Rollout-Dyna-DQN 10×10" in md and "(n=1)" in md and "±" not in md  # 1 seed: no CI
    assert "Sample efficiency" in md
    assert (out / "charts" / "minatar_Breakout.png").stat().st_size > 5000
    assert (out / "charts" / "curves_minatar_Breakout.png").exists()

    # rerun: nothing to do; an unfinished run (summary gone, checkpoints kept) resumes
    run = out / "runs/minatar/Breakout/dyna_100x1/seed0"
    before = json.loads((run / "summary.json").read_text())
    (run / "summary.json").unlink()
    shutil.rmtree(run / "checkpoints" / "step_0000000600")
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert "5 already finished" in r.stdout
    assert "resumed from" in (run / "log.txt").read_text()
    after = json.loads((run / "summary.json").read_text())
    assert after["eval_return_mean"] == before["eval_return_mean"]
    assert after["agent_updates"] == before["agent_updates"]

    # a model_relaxation report takes this sweep's runs of its methods (DQN, perfect n×k)
    relax = tmp_path / "relax"
    r = cli(
        "sweep",
        str(ROOT / "experiments/model_relaxation.yaml"),
        *TINY,
        *("--out", str(relax), "--seeds", "1", "--suite", "minatar", "--game", "Breakout"),
        *("--method", "learned_10x10", "--workers", "1"),
    )
    assert r.returncode == 0, r.stderr
    r = cli("report", str(relax), "--include", str(out))
    assert r.returncode == 0, r.stderr
    lines = (relax / "report.md").read_text().splitlines()
    header = [x for x in lines if x.startswith("| game")]
    assert (
        header[0] == "| game | DQN | perfect 100×1 | perfect 33×3 | online 10×10 | perfect 10×10 |"
    )
    # the learned model's k-step and termination errors: the run's last measurements, no CI
    errors = [x for x in lines if x.startswith("| Breakout | online 10×10 | 10 |")]
    cells = [c.strip() for c in errors[0].split("|")[4:8]] if len(errors) == 1 else []
    run = relax / "runs/minatar/Breakout/learned_10x10/seed0"
    errs = read_csv(run / "model_error.csv")
    last = max(int(r["env_steps"]) for r in errs)
    frame = {int(r["k"]): float(r["frame_error"]) for r in errs if int(r["env_steps"]) == last}
    term = max(read_csv(run / "termination_error.csv"), key=lambda r: int(r["env_steps"]))
    measured = [frame[1], frame[10], float(term["recall"]), float(term["false_alarm"])]
    assert cells == [f"{x:.4f}" for x in measured]


def test_sweep_on_a_local_ray_instance(cli, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    r = cli(
        "sweep",
        str(ROOT / "experiments/planning_shape.yaml"),
        *TINY,
        "--out",
        str(out),
        "--seeds",
        "2",
        "--suite",
        "minatar",
        "--game",
        "Freeway",
        "--method",
        "dqn",
        "--method",
        "rollout_10x10",
        "--ray",
        "local",
        "--workers",
        "2",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr
    res = rows(out / "results.csv")
    assert sorted((x["method"], x["seed"]) for x in res) == [
        ("dqn", "0"),
        ("dqn", "1"),
        ("rollout_10x10", "0"),
        ("rollout_10x10", "1"),
    ]


def test_two_local_ray_sweeps_run_side_by_side(tmp_path):
    """Each --ray local sweep starts a cluster of its own: neither joins nor stops the other."""
    pytest.importorskip("ray")
    import subprocess
    import sys

    def start(out):
        return subprocess.Popen(
            [sys.executable, "-m", "dynaworld.cli", "sweep",
             str(ROOT / "experiments/planning_shape.yaml"), "total_steps=300",
             "replay.learning_starts=100", "eval_every=0", "final_eval_episodes=1",
             "--out", str(out), "--seeds", "1", "--suite", "minatar", "--game", "Breakout",
             "--method", "dqn", "--ray", "local", "--workers", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    a, b = start(tmp_path / "a"), start(tmp_path / "b")
    for p, out in ((a, tmp_path / "a"), (b, tmp_path / "b")):
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert [x["method"] for x in rows(out / "results.csv")] == ["dqn"]


def test_bad_experiment_input_is_named(cli, tmp_path):
    r = cli(
        "sweep",
        str(ROOT / "experiments/planning_shape.yaml"),
        "agent.lrr=1",
        "--out",
        str(tmp_path / "x"),
    )
    assert r.returncode != 0 and "did you mean 'agent.lr'" in r.stderr
    r = cli(
        "sweep",
        str(ROOT / "experiments/planning_shape.yaml"),
        "--suite",
        "nes",
        "--out",
        str(tmp_path / "x"),
    )
    assert r.returncode != 0 and "unknown suite 'nes'" in r.stderr
    r = cli("report", str(tmp_path / "nothing"))
    assert r.returncode != 0 and "results.csv not found" in r.stderr


def test_human_normalised_scores():
    assert human_normalised("ALE/Pong-v5", 14.6) == pytest.approx(1.0)
    assert human_normalised("ALE/Pong-v5", -20.7) == pytest.approx(0.0)
    assert human_normalised("MinAtar/Breakout-v1", 3.0) is None


def test_two_pretrained_models_a_game_are_made_from_their_own_experts_and_split_by_seed(tmp_path):
    from dynaworld.studies.experiment import Experiment
    from dynaworld.studies.sweep import pretrain_jobs

    exp = Experiment.load(ROOT / "experiments/model_relaxation_200k.yaml")
    specs = [r for r in exp.runs(tmp_path, seeds=4) if r.method == "pretrained_10x10"]
    paths = {(r.game, r.seed): r.cfg.planning.model_path for r in specs}
    assert paths["Breakout", 0] == paths["Breakout", 2] != paths["Breakout", 1] == paths["Breakout", 3]  # fmt: skip
    assert paths["Breakout", 1].endswith("pretrain/minatar/Breakout/model1/model.pt")
    jobs = pretrain_jobs(exp, specs)
    assert sorted((Path(folder).parent.name, Path(folder).name, expert["seed"]) for expert, folder, _ in jobs) == [  # fmt: skip
        ("Breakout", "model0", 0), ("Breakout", "model1", 1),
        ("SpaceInvaders", "model0", 0), ("SpaceInvaders", "model1", 1),
    ]  # fmt: skip
    assert all(e["planning"] == {"model": "none"} and e["eval_block"] == "validation" for e, _, _ in jobs)  # fmt: skip


def test_a_pretrained_model_is_made_expert_data_model_and_the_expert_ignores_no_setting(tmp_path):
    """``run_pretrain`` on a tiny MinAtar budget: the expert DQN run is made without m's settings
    (a new run refuses settings it would ignore), the model with them."""
    from dynaworld.config import load_yaml
    from dynaworld.studies.sweep import run_pretrain

    expert = load_yaml(ROOT / "configs/dqn_minatar_breakout.yaml")
    expert.update(total_steps=300, eval_every=0, final_eval_episodes=1, progress=False, seed=1)
    expert["replay"] = {"learning_starts": 100}
    expert["model"] = {"lr": 0.001, "batch_size": 8}
    settings = {"collect_steps": 200, "epsilon": 0.05, "model_updates": 3}
    out = run_pretrain(expert, str(tmp_path / "m1"), settings, 1)
    assert "eval_return_mean" in out and (tmp_path / "m1" / "model.pt").is_file()
    made = load_yaml(tmp_path / "m1" / "expert" / "config.yaml")
    assert made["model"]["lr"] != 0.001 and made["seed"] == 1


def test_a_sweep_gives_small_networks_one_thread_and_the_atari_cnn_its_share_of_cores(tmp_path):
    from dynaworld.config import load_config, to_dict
    from dynaworld.studies.sweep import _task

    for name, share, chosen in (("dqn_minatar_breakout", 2, 1), ("dqn_cartpole", 2, 1),
                                ("dqn_atari100k_pong", 2, 2), ("dqn_minatar_breakout", None, None)):  # fmt: skip
        cfg, _ = _task(to_dict(load_config(name)), str(tmp_path / name), share)
        assert cfg.torch_threads == chosen, name  # None: unset, the run chooses (cpu_threads)
    own = to_dict(load_config("dqn_minatar_breakout", ["torch_threads=2"]))
    assert _task(own, str(tmp_path / "own"), 1)[0].torch_threads == 2  # a run's own setting wins
