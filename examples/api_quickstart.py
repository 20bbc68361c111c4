"""dynaworld's Python API in one page: train DQN on CartPole, load the run, act, evaluate.

python examples/api_quickstart.py [--steps 20000] [--run-dir runs/api-cartpole]
"""

import argparse

import dynaworld

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--steps", type=int, default=20_000)
p.add_argument("--run-dir", default="runs/api-cartpole")
a = p.parse_args()

# Train from a shipped config by name; keyword overrides are config keys ('__' for the dot).
run = dynaworld.train(
    "dqn_cartpole", run_dir=a.run_dir, total_steps=a.steps, progress=False,
    replay__learning_starts=min(1_000, a.steps // 3), eval_every=0, final_eval_episodes=5,
)  # fmt: skip
print("summary:", {k: run.summary[k] for k in ("env_steps", "eval_return_mean")})

# Load it again (from any machine: plain data only) and act with it.
run = dynaworld.load(a.run_dir)
env = run.make_env()
obs, _ = env.reset(seed=0)
total, done = 0.0, False
while not done:
    action, _ = run.agent.predict(obs, deterministic=True)
    obs, reward, terminated, truncated, _ = env.step(action)
    total, done = total + float(reward), terminated or truncated
print("one greedy episode:", total)
print("evaluation over 5 episodes:", run.evaluate(episodes=5).mean())
