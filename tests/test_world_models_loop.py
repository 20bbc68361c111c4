"""World Models is a setting of Algorithm 1: K = 1 is the paper's procedure, K > 1 its iterative
training (collect with C, retrain M, retrain C). Tiny real VizDoom budgets, in subprocesses; the
K = 1 claim runs on CarRacing (Box2D) where VizDoom is not installed."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import run_isolated

DOOM = [
    "env.id=VizdoomTakeCover-v1", "env.max_episode_steps=60", "data.rollouts=3",
    "data.max_steps=60", "data.workers=1", "vae.epochs=1", "vae.batch_size=16", "vae.z_dim=8",
    "mdn.seq_len=10", "mdn.batch_size=4", "mdn.steps=5", "mdn.hidden=16", "mdn.done_head=true",
    "controller.variant=full", "es.where=dream", "es.popsize=4", "es.rollouts=2",
    "es.generations=2", "es.max_steps=40", "es.eval_every=2", "es.eval_rollouts=4",
    "eval_episodes=2", "es.workers=1",
]  # fmt: skip


def installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_world_models_k1_through_the_loop_equals_its_stage_commands(tmp_path):
    if installed("vizdoom"):
        run_isolated(k1_claims, str(tmp_path), "\n".join(DOOM))
    else:  # the same claim in CarRacing's dream (M with a reward head)
        pytest.importorskip("Box2D")
        car = [x for x in DOOM if not x.startswith(("env.id=", "mdn.done_head"))]
        car += ["env.id=CarRacing-v3", "mdn.reward_head=true"]
        run_isolated(k1_claims, str(tmp_path), "\n".join(car))


def k1_claims(tmp: str, settings: str) -> None:
    from pathlib import Path

    from dynaworld.config import load_config
    from dynaworld.worldmodels.config import WorldModelsConfig
    from dynaworld.worldmodels.pipeline import STAGES, Pipeline

    cfg = load_config(None, settings.split("\n"), WorldModelsConfig)
    loop, stages = Path(tmp) / "loop", Path(tmp) / "stages"
    out = Pipeline(cfg, loop, progress=False).run()  # Algorithm 1 with K = 1
    assert list(out) == ["interact_1", "update_model_1", "agent_1", "evaluate"]
    for s in STAGES:  # the CLI's stage commands, each in a fresh Pipeline as the CLI makes them
        Pipeline(cfg, stages, progress=False).run([s])
    c = "C_full_dream_tau1_sampled" if cfg.es.dream_done == "sample" else "C_full_dream_tau1"
    assert np.array_equal(np.load(loop / c / "params.npy"), np.load(stages / c / "params.npy"))
    m = [torch.load(d / "mdn.pt", weights_only=True)["weights"] for d in (loop, stages)]
    assert all(torch.equal(m[0][k], m[1][k]) for k in m[0])
    evals = [json.loads((d / c / "eval.json").read_text()) for d in (loop, stages)]
    assert evals[0]["returns"] == evals[1]["returns"] and evals[0]["iteration"] == 1
    assert not (loop / "iter2").exists()  # K = 1: the paper's procedure, nothing more
    from dynaworld.loop import EpisodeEnvironment, Loop

    algorithm = Pipeline(cfg, loop, progress=False).loop()  # the run is loop.Loop itself
    assert isinstance(algorithm, Loop) and isinstance(algorithm.environment, EpisodeEnvironment)
    assert (algorithm.first_M, algorithm.K) == (cfg.data.rollouts, 1)
    again = Pipeline(cfg, loop, progress=False).run()  # a finished run: every part skipped
    assert again["interact_1"] == {"skipped": True} and again["agent_1"]["generations"] == 2
    assert all(v == {"skipped": True} for v in again["update_model_1"].values())


def test_world_models_k2_collects_with_c_refits_m_on_all_data_and_continues_c(tmp_path):
    pytest.importorskip("vizdoom")
    run_isolated(k2_claims, str(tmp_path))


def k2_claims(tmp: str) -> None:
    from pathlib import Path

    from dynaworld.agents.cmaes import load_state, new_es
    from dynaworld.config import load_config
    from dynaworld.envs import frames
    from dynaworld.envs.frames import ACTION_SPACES
    from dynaworld.models.mdnrnn import action_vector, features
    from dynaworld.worldmodels import control
    from dynaworld.worldmodels import data as wmdata
    from dynaworld.worldmodels.config import WorldModelsConfig
    from dynaworld.worldmodels.pipeline import Pipeline
    from dynaworld.worldmodels.rollout import load_m, load_v

    over = ["iterate.iterations=2", "iterate.rollouts=2", "iterate.epsilon=0", "iterate.mdn_steps=3"]  # fmt: skip
    cfg = load_config(None, DOOM + over, WorldModelsConfig)
    d = Path(tmp) / "run"
    pipe = Pipeline(cfg, d, progress=False)
    out = pipe.run()
    run, made = pipe.paths, (d / "config.yaml").read_bytes()
    assert out["evaluate"]["iteration"] == 2 and out["agent_2"]["generations"] == 2
    # Iteration 2's real interactions are C_1's rollouts (epsilon 0: C's actions exactly).
    params = np.load(run.c_dir(1) / "params.npy")
    v, m, c = load_v(d / "vae.pt"), load_m(run.m_path(1)), control.controller(run)
    files, doom = wmdata.rollout_files(run.data_dir(2)), ACTION_SPACES[frames.DOOM]
    assert len(files) == 2
    for f in files:
        r, state = wmdata.load_npz(f), m.initial_state(1)
        p = torch.as_tensor(params, dtype=torch.float32)[None]
        with torch.no_grad():
            for frame, recorded in zip(r["frames"], r["actions"], strict=False):
                z = v.encode(torch.from_numpy(frame)[None])[0]
                a = c.act(p, features(z, state, "zch")[None])[0, 0]
                assert int(np.argmax(recorded)) == int(a)
                state = m.next_state(z, action_vector(a[None], doom), state)
    # UPDATEMODEL: M_2 was trained (3 updates) on the rollouts of both iterations, from M_1.
    m2 = torch.load(run.m_path(2), weights_only=True)
    assert m2["rollouts"] == 3 + 2
    assert len((d / "iter2" / "mdn_log.csv").read_text().splitlines()) == 2  # header + update 3
    # C_2's CMA-ES started from C_1's best parameters and made es.generations more generations.
    state = load_state(run.c_dir(2), new_es(c.n_params, 0.1, 4, 0, False))
    assert state is not None and np.allclose(state["es"].x0, params)
    assert json.loads((run.c_dir(2) / "eval.json").read_text())["iteration"] == 2
    # The constant-action probe of M_2: each policy in the dream and in the game, as files.
    from dynaworld.studies.worldmodels.probe import probe

    rows = {r["policy"]: r for r in probe(run, 2, episodes=2)["rows"]}
    assert set(rows) == {"noop", "right", "left", "random"}
    assert all(r["real_mean"] > 0 and 1 <= r["dream_mean"] <= 40 for r in rows.values())
    assert (d / "iter2" / "probe_tau1_threshold.md").exists() and (d / "probe_real_2.json").exists()
    # The report follows C over the iterations: one row per C_k with its probe, and the gap chart.
    from dynaworld.studies.worldmodels.table import report

    probe(run, 1, episodes=2)
    pipe.evaluate(k=1), pipe.evaluate_random()
    text = report([d]).read_text()
    rows = [line for line in text.splitlines() if line.startswith(("| 1 | 3 |", "| 2 | 5 |"))]
    assert len(rows) == 2 and all("noop " in r and "right " in r for r in rows), text
    with Image.open(d / "iterations_run.png") as img:
        assert img.size[0] > img.size[1] > 100
    # The temperature table at the final model: a new tau is trained in M_2's dream from zero
    # weights; the iterated tau keeps its C_2; both are tested against the run's random policy.
    from dynaworld.studies.worldmodels.controllers import run_experiment

    exp = Path(tmp) / "temps.yaml"
    exp.write_text(f"name: t\nconfig: {d / 'config.yaml'}\ncontrollers:\n"
                   "  - {es.temperature: 0.5}\n  - {es.temperature: 1.0}\n")  # fmt: skip
    run_chart = (d / "temperature.png").read_bytes()  # the run report's, drawn above
    result = run_experiment(exp, d, progress=False, iteration=2)
    assert sorted(result["evals"]) == ["C_full_dream_tau0.5", "C_full_dream_tau1"]
    new = d / "iter2" / "C_full_dream_tau0.5"
    assert not np.any(load_state(new, new_es(c.n_params, 0.1, 4, 0, False))["es"].x0)
    assert json.loads((new / "eval.json").read_text())["iteration"] == 2
    table = Path(result["report"]).read_text()
    assert result["report"].endswith("report_iter2.md") and "| 0.5 |" in table and "| 1 |" in table
    assert "random policy" in table and f"`{d / 'C_full_dream_tau1'}" not in table  # not C_1
    # beside them: always no-op on the same episodes (the probe's), zacwellmer's τ = 1 score
    assert "| always no-op | — |" in table and "`probe_real_2.json`" in table
    assert "| 849 ± 499 |" in next(r for r in table.splitlines() if r.startswith("| 1 |"))
    # report_iter2.md's figures are its own: the run report's stay as they were.
    assert (
        "iteration k = 2, per temperature" in table
        and "(temperature_iter2.png)" in table
        and (d / "temperature_iter2.png").exists()
    )
    assert (d / "temperature.png").read_bytes() == run_chart
    # Training controllers of an experiment records their settings in their C folders only.
    assert (d / "config.yaml").read_bytes() == made
    # The run goes on with more iterations (iteration k's data, V and M do not depend on how many
    # follow); another iteration setting would mix two procedures and is refused, naming it.
    from dynaworld.errors import ConfigError

    other = load_config(None, DOOM + over + ["iterate.rollouts=3"], WorldModelsConfig)
    with pytest.raises(ConfigError, match=r"iterate.rollouts=2 \(now 3\)"):
        Pipeline(other, d, progress=False)
    assert (d / "config.yaml").read_bytes() == made
    more = load_config(None, DOOM + over + ["iterate.iterations=3"], WorldModelsConfig)
    assert Pipeline(more, d, progress=False).paths.last_iteration() == 2
    # es.dream_models=2: a candidate's fitness is its lower mean return over M_1's and M_2's
    # dreams; the C_..._models2 chain has no C_1 of its own, so it starts from C_1 of one model.
    from dynaworld.models.dream import dream_returns
    from dynaworld.worldmodels.run import WorldModelsRun, params_digest

    two = WorldModelsRun(
        load_config(None, DOOM + over + ["es.dream_models=2"], WorldModelsConfig), d, False
    )
    cma, fit, close = control.agent(two, 2, lambda: None)
    assert two.c_dir(2).name == "C_full_dream_tau1_models2"
    assert np.allclose(cma.state["es"].x0, params)
    cand = np.stack([params, np.zeros_like(params)])
    p = torch.as_tensor(cand, dtype=torch.float32)
    each = [dream_returns(control.dream_env(two, j, seed=1), c, p, 2, 40).numpy() for j in (1, 2)]
    assert np.allclose(fit(cand, 1), np.minimum(*each))
    close()
    # A CMA-ES repeat (es.seed=1) at iteration 2 starts where its seed-0 C does, from the run's
    # C_1, not from a seed-1 C_1 of its own (e.g. one trained from zero by an experiment at
    # iteration 1); each C folder names the C it started from, with its digest.
    rep = WorldModelsRun(
        load_config(None, DOOM + over + ["es.seed=1"], WorldModelsConfig), d, False
    )
    rep.c_dir(1).mkdir()
    np.save(rep.c_dir(1) / "params.npy", params + 1)
    cma, _, close = control.agent(rep, 2, lambda: None)
    close()
    assert np.allclose(cma.state["es"].x0, params)
    started = json.loads((rep.c_dir(2) / "start.json").read_text())
    assert started["from"] == "C_full_dream_tau1" and started["params_sha256"] == params_digest(
        run.c_dir(1)
    )
    # es.start=zero: C_2 from zero weights in M_2's dream (the temperature table at the final
    # model), into a folder of its own; at iteration 1 the setting changes nothing.
    zero = WorldModelsRun(
        load_config(None, DOOM + over + ["es.start=zero"], WorldModelsConfig), d, False
    )
    cma, _, close = control.agent(zero, 2, lambda: None)
    close()
    assert zero.c_dir(2).name == "C_full_dream_tau1_fromzero" and zero.c_dir(1) == run.c_dir(1)
    assert not np.any(cma.state["es"].x0)
    assert json.loads((zero.c_dir(2) / "start.json").read_text())["from"] is None
    # A branch of the run: C of two dream models from iteration 3 on (run --from-iteration 3),
    # iterations 1-2 kept as they are; refused, before any work, while its C_2 does not exist.
    from dynaworld.errors import ConfigError

    branch = load_config(
        None, DOOM + over + ["iterate.iterations=3", "es.dream_models=2"], WorldModelsConfig
    )
    with pytest.raises(ConfigError, match=r"experiment \.\.\. --iteration 2"):
        WorldModelsRun(branch, d, False).check_first(3)
    pipe2 = Pipeline(branch, d, progress=False)
    pipe2.iterate(2, 2, plan_only=True)  # its C_2, as 'experiment ... --iteration 2' trains it
    m2, c1 = (d / "iter2" / "mdn.pt").read_bytes(), params_digest(run.c_dir(1))
    out = pipe2.run(first=3)
    assert out["evaluate"]["iteration"] == 3 and not [k for k in out if k[-2:] in ("_1", "_2")]
    assert (d / "iter2" / "mdn.pt").read_bytes() == m2 and params_digest(run.c_dir(1)) == c1
    assert len(wmdata.rollout_files(d / "iter3" / "data")) == 2  # collected with C_2 of 2 models
    started = json.loads((pipe2.paths.c_dir(3) / "start.json").read_text())
    assert started["from"] == "iter2/C_full_dream_tau1_models2"
    # A branch may change a C setting its folder's name does not show (es.sigma0): the C of the
    # iterations it keeps are not checked against it. Over the whole run it is refused, naming it.
    sig = load_config(
        None,
        DOOM + over + ["iterate.iterations=4", "es.dream_models=2", "es.sigma0=0.05"],
        WorldModelsConfig,
    )
    with pytest.raises(ConfigError, match=r"es.sigma0=0.1 \(now 0.05\)"):
        Pipeline(sig, d, progress=False)
    assert Pipeline(sig, d, progress=False, first=4).paths.cfg.es.sigma0 == 0.05
