"""The Python API: train, load, predict, evaluate, as the README and the example show."""

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dynaworld
from dynaworld.errors import DynaworldError

ROOT = Path(__file__).resolve().parents[1]


def test_the_api_example_runs(tmp_path):
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "api_quickstart.py"), "--steps", "600",
         "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "one greedy episode:" in r.stdout and "evaluation over 5 episodes:" in r.stdout


def test_a_loaded_minatar_agent_acts_on_plain_gym_observations(tmp_path):
    run = dynaworld.train(
        "dqn_minatar_breakout", run_dir=tmp_path / "b", total_steps=300,
        replay__learning_starts=100, eval_every=0, final_eval_episodes=1, progress=False,
    )  # fmt: skip
    assert run.summary["env_steps"] == 300 and run.config.total_steps == 300
    again = dynaworld.load(tmp_path / "b")
    obs, _ = again.make_env().reset(seed=1)
    a, _ = again.agent.predict(obs)
    batch, _ = again.agent.predict(np.stack([obs, obs]))
    assert isinstance(a, int) and batch.tolist() == [a, a]
    plain = gym.make("MinAtar/Breakout-v1")  # channels-last bool frames
    raw, _ = plain.reset(seed=1)
    assert again.agent.predict(raw)[0] == a  # the same state, the same action
    with pytest.raises(DynaworldError, match="make the env with run.make_env"):
        again.agent.predict(np.zeros((3, 3)))
    with pytest.raises(DynaworldError, match="not a run folder"):
        dynaworld.load(tmp_path)


def test_train_takes_a_dict_or_a_train_config_and_load_names_a_missing_folder(tmp_path):
    from dynaworld.config import load_config

    cfg = load_config("dqn_cartpole", ["total_steps=200", "replay.learning_starts=100",
                                       "eval_every=0", "final_eval_episodes=1", "progress=false"])  # fmt: skip
    run = dynaworld.train(cfg, run_dir=tmp_path / "a", seed=3)
    assert run.config.seed == 3 and run.summary["env_steps"] == 200
    as_dict = {"env": {"id": "CartPole-v1"}, "total_steps": 200, "eval_every": 0,
               "final_eval_episodes": 1, "progress": False, "replay": {"learning_starts": 100}}  # fmt: skip
    assert dynaworld.train(as_dict, run_dir=tmp_path / "b").summary["env_steps"] == 200
    with pytest.raises(DynaworldError, match="no such run folder"):
        dynaworld.load(tmp_path / "nope")


def test_every_cli_argument_says_what_it_is_and_every_default_is_shown():
    import argparse

    from dynaworld.cli import _parser

    def arguments(p, path=""):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sub in a.choices.items():
                    yield from arguments(sub, f"{path} {name}")
            elif not isinstance(a, argparse._HelpAction | argparse._VersionAction):
                yield path, a

    found = list(arguments(_parser()))
    assert len(found) > 80  # every command's arguments, World Models' included
    silent = [(p, a.dest) for p, a in found if not a.help]
    unstated = [
        (p, a.dest)
        for p, a in found
        if a.option_strings and a.default not in (None, False, []) and "default" not in a.help
    ]
    assert silent == [] and unstated == []


def test_the_cli_writing_into_a_closed_pipe_ends_quietly():
    p = subprocess.Popen([sys.executable, "-m", "dynaworld.cli", "config"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
    p.stdout.close()  # as `dynaworld config | head` does once head has its lines
    err = p.stderr.read()
    assert p.wait(timeout=120) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_eval_gif_records_the_evaluation_policy_playing(cli, finished_run, tmp_path):
    from PIL import Image

    gif = tmp_path / "agent.gif"
    r = cli("eval", str(finished_run), "--episodes", "2", "--gif", str(gif), "--gif-episodes", "2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["gif"]["episodes"] == 2 and len(out["gif"]["returns"]) == 2
    im = Image.open(gif)
    assert out["gif"]["frames"] == sum(out["gif"]["returns"])  # CartPole: a frame and 1 a step
    assert 1 < im.n_frames <= out["gif"]["frames"]  # (Pillow merges identical frames)
    assert im.size == (600, 400)
    first = np.asarray(im.convert("RGB"))
    assert first.std() > 0  # a drawn scene, not a blank frame
    assert "XDG_RUNTIME_DIR" not in r.stderr  # drawn off-screen, no display looked for


def test_eval_gif_without_a_renderer_is_refused_before_any_episode(finished_run, tmp_path):
    # CartPole draws with pygame; here its import fails as on an install without it
    code = (
        "import sys; sys.modules['pygame'] = None; from dynaworld.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    gif = tmp_path / "agent.gif"
    r = subprocess.run(
        [sys.executable, "-c", code, "eval", str(finished_run), "--episodes", "2", "--gif", str(gif)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert "cannot record CartPole-v1" in r.stderr and "pygame" in r.stderr
    assert "evaluate CartPole" not in r.stderr and not gif.exists()  # no episode was played


def test_user_callbacks_see_every_step_evaluation_and_checkpoint_and_a_run_continues_from_python(
    tmp_path,
):
    from dynaworld.callbacks import Callback

    class Seen(Callback):
        def __init__(self):
            self.steps, self.evals, self.checkpoints = [], [], []

        def on_step(self, transition, state):
            self.steps.append(state.env_steps)  # after the step is counted

        def on_evaluation(self, step, returns):
            self.evals.append((step, len(returns)))

        def on_checkpoint(self, step, path):
            assert path.is_file()
            self.checkpoints.append(step)

    seen = Seen()
    run = dynaworld.train("dqn_cartpole", tmp_path / "r", callbacks=[seen], total_steps=400,
                          replay__learning_starts=100, eval_every=200, eval_episodes=2,
                          final_eval_episodes=3, checkpoint_every=200, progress=False)  # fmt: skip
    assert seen.steps == list(range(1, 401))
    assert seen.evals == [(200, 2), (400, 3)]  # the final evaluation is the last
    assert seen.checkpoints == [200, 400]
    more = Seen()
    run.train(600, callbacks=[more])  # the finished run extended from its checkpoint
    assert more.steps == list(range(401, 601)) and more.checkpoints == [600]
    assert run.summary["env_steps"] == 600
    with pytest.raises(TypeError, match="none of on_step"):
        dynaworld.train("dqn_cartpole", tmp_path / "x", callbacks=[object()], total_steps=100)
    assert not (tmp_path / "x").exists()
