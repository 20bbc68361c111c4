"""Many seeds as one program (dynaworld.seeds, agents.seedbatch): each seed of a batched run is
the single run with that seed, to a stated float tolerance, and still a run of its own."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import dynaworld
from dynaworld.agents import DQNAgent
from dynaworld.agents.networks import MinAtarNet
from dynaworld.agents.seedbatch import Lockstep, SeedBatch
from dynaworld.checkpoint import latest_checkpoint
from dynaworld.config import AgentConfig, load_config
from dynaworld.errors import ConfigError
from dynaworld.runlog import read_metrics
from dynaworld.seeds import batch_refusal, train_seeds
from dynaworld.training import train
from dynaworld.types import Batch
from tests.conftest import CONFIGS

LOSS_RTOL = 1e-4  # float32 kernels of a stacked (vmap-ed) network vs one network's own
FAST = ["progress=false", "eval_episodes=3", "final_eval_episodes=5", "torch_threads=1"]


def _batches(rng, n_seeds, size=32):
    out = []
    for _ in range(n_seeds):
        obs = (rng.random((size, 4, 10, 10)) < 0.2).astype(np.float32)
        out.append(Batch(obs=obs, action=rng.integers(6, size=size),
                         reward=rng.random(size).astype(np.float32), next_obs=obs[::-1].copy(),
                         done=rng.random(size) < 0.1, horizon=np.ones(size, np.int64)))  # fmt: skip
    return out


def _agents(cfg, seeds):
    agents = []
    for s in seeds:
        torch.manual_seed(s)
        agents.append(DQNAgent(MinAtarNet(4, 6), 6, cfg, "cpu", seed=s))
    return agents


@pytest.mark.parametrize("double_dqn", [False, True])
def test_seed_k_of_a_batched_agent_makes_the_single_agents_first_100_updates(double_dqn):
    cfg = AgentConfig(double_dqn=double_dqn, target_update_period=25, max_grad_norm=1.0)
    seeds = [3, 7, 11]
    single, stacked = _agents(cfg, seeds), _agents(cfg, seeds)
    batch = SeedBatch(stacked, Lockstep(len(seeds), {}))
    rng = np.random.default_rng(0)
    for _ in range(100):
        data = _batches(rng, len(seeds))
        batch.update_all([0, 1, 2], data)
        for a, b, s in zip(single, data, stacked, strict=True):
            a.update(b)
            mine, theirs = a.pop_metrics(), s.pop_metrics()
            assert mine["loss"] == pytest.approx(theirs["loss"], rel=LOSS_RTOL, abs=1e-6)
    for a, s in zip(single, stacked, strict=True):
        assert a.updates == s.updates == 100
        for (n, p), q in zip(a.q.named_parameters(), s.q.parameters(), strict=True):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-5), n
        sd = s.state_dict()  # in DQNAgent's own format: a single agent loads it
        fresh = _agents(cfg, [0])[0]
        fresh.load_state_dict(sd)
        obs = (rng.random((5, 4, 10, 10)) < 0.2).astype(np.float32)
        assert np.array_equal(fresh.greedy(obs), s.greedy(obs))


def test_a_batched_run_makes_its_single_runs_steps_and_summaries(tmp_path):
    """Before learning starts every real step is the single run's (exact); over a 1,200-step
    MinAtar run with extra updates the summaries agree to 1e-6 (no greedy action flipped)."""
    ov = [*FAST, "total_steps=1200", "replay.learning_starts=400", "eval_every=0",
          "checkpoint_every=600", "log_every=200", "planning.model=replay",
          "planning.shape=100x1", "planning.period=4", "planning.updates_per_transition=0.03125",
          "replay.updates_per_step=0.25"]  # fmt: skip
    cfgs = [load_config(CONFIGS / "dqn_minatar_breakout.yaml", [*ov, f"seed={s}"]) for s in (0, 1)]
    batched = train_seeds(cfgs, [tmp_path / f"b{s}" for s in (0, 1)], progress=False)
    for s, (cfg, got) in enumerate(zip(cfgs, batched, strict=True)):
        want = train(cfg, tmp_path / f"s{s}")
        assert got["agent_updates"] == want["agent_updates"] > 600
        for k in ("eval_return_mean", "train_return_100", "episodes"):
            assert got[k] == pytest.approx(want[k], abs=1e-6), k

        def early(d):
            return [(r["env_steps"], r["episode_return"]) for r in read_metrics(d)
                    if "episode_return" in r and int(r["env_steps"]) <= 400]  # fmt: skip

        assert early(tmp_path / f"b{s}") == early(tmp_path / f"s{s}") != []
    run = dynaworld.load(tmp_path / "b1")  # each seed is a run: its checkpoint loads alone
    assert len(run.evaluate(episodes=2)) == 2


def test_a_batched_run_killed_and_resumed_ends_as_the_uninterrupted_one(cli, tmp_path):
    args = [str(CONFIGS / "dqn_cartpole.yaml"), "total_steps=4000", "replay.learning_starts=500",
            "checkpoint_every=500", "eval_every=2000", *FAST, "--seeds", "2"]  # fmt: skip
    full, killed = tmp_path / "full", tmp_path / "killed"
    r = cli("train", *args, "--run-dir", str(full))
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "dynaworld.cli", "train", *args, "--run-dir", str(killed)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 300
    while time.time() < deadline:
        ck = latest_checkpoint(killed / "seed1")
        if ck is not None and int(ck.parent.name.split("_")[1]) >= 1500:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "seed0" / "summary.json").exists(), "finished before it was killed"
    r = cli("train", "--resume", str(killed), "--seeds", "2")
    assert r.returncode == 0, r.stderr
    for s in ("seed0", "seed1"):
        a, b = (json.loads((d / s / "summary.json").read_text()) for d in (full, killed))
        a.pop("wall_time_s"), b.pop("wall_time_s")
        assert a == b
        rows = [[{k: v for k, v in row.items() if k not in ("wall_time_s", "steps_per_s")}
                 for row in read_metrics(d / s)] for d in (full, killed)]  # fmt: skip
        assert rows[0] == rows[1]


def test_runs_that_differ_beyond_their_seed_are_not_batched(tmp_path):
    cfgs = [load_config(CONFIGS / "dqn_cartpole.yaml", [f"seed={s}"]) for s in (0, 1)]
    assert batch_refusal(cfgs) is None
    cfgs[1].agent.lr = 1e-3
    assert batch_refusal(cfgs) == "the seeds' configs differ in agent.lr"
    with pytest.raises(ConfigError, match="agent.lr"):
        train_seeds(cfgs, [tmp_path / "a", tmp_path / "b"])
    assert not (tmp_path / "a").exists()
    learned = [load_config(CONFIGS / "dqn_cartpole.yaml", [f"seed={s}", "planning.model=ensemble",
                                                            "planning.shape=1x1"]) for s in (0, 1)]  # fmt: skip
    assert "global generator" in batch_refusal(learned)


def test_a_sweep_packs_the_seeds_of_each_setting_into_one_batched_run(cli, tmp_path):
    """--pack-seeds on: the seeds of each (game, method) train as one program; the rows equal an
    unpacked sweep's; rerun, the batched seeds are reused like single runs."""
    from tests.test_sweep import ROOT, TINY, rows

    def sweep(out, pack):
        return cli("sweep", str(ROOT / "experiments/planning_shape.yaml"), *TINY, "--out", str(out),
                   "--seeds", "2", "--suite", "minatar", "--game", "Breakout", "--method", "dqn",
                   "--method", "rollout_10x10", "--workers", "1", "--pack-seeds", pack)  # fmt: skip

    assert sweep(tmp_path / "packed", "on").returncode == 0
    assert sweep(tmp_path / "single", "off").returncode == 0
    log = (tmp_path / "packed/runs/minatar/Breakout/dqn/seed1/log.txt").read_text()
    assert "seed 1 is one of 2 seeds trained as one batched program" in log  # its own log
    assert (
        "batched" not in (tmp_path / "single/runs/minatar/Breakout/dqn/seed1/log.txt").read_text()
    )

    def numbers(out):
        keep = ("method", "seed", "eval_return_mean", "agent_updates", "model_transitions")
        return sorted(tuple(r[k] for k in keep) for r in rows(out / "results.csv"))

    assert numbers(tmp_path / "packed") == numbers(tmp_path / "single")
    again = sweep(tmp_path / "packed", "on")
    assert again.returncode == 0 and "4 already finished" in again.stdout
    history = (tmp_path / "packed/history.jsonl").read_text()
    assert '"pack": "on"' in history
