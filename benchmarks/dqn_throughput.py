"""DQN throughput on ALE Pong (Atari-100k settings): dynaworld vs Stable-Baselines3, same run.

Both agents: Nature CNN, batch 32, one update every 4 agent steps after 1,600 steps, target
network every 2,000 updates (= 8,000 steps), replay capacity 100k, Adam lr 1e-4, Huber loss,
gradient clip 10, no sticky actions, 30 no-op starts, frame skip 4, 4-frame stack, clipped rewards.
Each runs in its own fresh process, one after the other, for the same number of agent steps;
we report agent steps/s, the replay buffer's allocated bytes and the process's peak RSS increase.

    python benchmarks/dqn_throughput.py [--steps 10000] [--threads N]

The last line printed is one JSON object with both results and the ratios.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
from typing import Any

CAPACITY, LEARNING_STARTS, TRAIN_FREQ, TARGET_UPDATES, BATCH, LR = (
    100_000,
    1_600,
    4,
    2_000,
    32,
    1e-4,
)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_dynaworld(steps: int, threads: int | None, device: str = "cpu") -> dict[str, Any]:
    import torch

    from dynaworld.build import build
    from dynaworld.config import load_config

    if threads:
        torch.set_num_threads(threads)
    cfg = load_config(
        "configs/dqn_atari100k_pong.yaml",
        [
            f"total_steps={steps}",
            f"replay.capacity={CAPACITY}",
            f"replay.learning_starts={LEARNING_STARTS}",
            f"replay.updates_per_step={1 / TRAIN_FREQ}",
            f"agent.target_update_period={TARGET_UPDATES}",
            f"agent.batch_size={BATCH}",
            f"agent.lr={LR}",
            "device=cpu",
            "progress=false",
        ],
    )
    base = rss_mb()
    c = build(cfg)
    t0 = time.perf_counter()
    st = c.loop.run()
    dt = time.perf_counter() - t0
    return {
        "agent_steps": st.env_steps,
        "agent_updates": st.agent_updates,
        "seconds": round(dt, 2),
        "steps_per_s": round(st.env_steps / dt, 1),
        "replay_bytes": c.buffer.nbytes,
        "peak_rss_increase_mb": round(peak_mb() - base, 1),
        "torch_threads": torch.get_num_threads(),
    }


def run_sb3(steps: int, threads: int | None, device: str = "cpu") -> dict[str, Any]:
    import ale_py
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.atari_wrappers import AtariWrapper
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    if threads:
        torch.set_num_threads(threads)
    gym.register_envs(ale_py)

    def make() -> gym.Env:
        env = gym.make(
            "ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0, max_episode_steps=108_000
        )
        return AtariWrapper(
            env,
            noop_max=30,
            frame_skip=4,
            screen_size=84,
            terminal_on_life_loss=True,
            clip_reward=True,
        )

    base = rss_mb()
    env = VecFrameStack(DummyVecEnv([make]), 4)
    model = DQN(
        "CnnPolicy",
        env,
        buffer_size=CAPACITY,
        learning_starts=LEARNING_STARTS,
        batch_size=BATCH,
        train_freq=TRAIN_FREQ,
        gradient_steps=1,
        target_update_interval=TARGET_UPDATES * TRAIN_FREQ,
        learning_rate=LR,
        exploration_fraction=0.5,
        exploration_final_eps=0.01,
        max_grad_norm=10,
        device="cpu",
        seed=0,
        verbose=0,
    )
    t0 = time.perf_counter()
    model.learn(total_timesteps=steps)
    dt = time.perf_counter() - t0
    buf = model.replay_buffer
    nbytes = sum(
        getattr(buf, k).nbytes
        for k in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
        if getattr(buf, k, None) is not None
    )
    return {
        "agent_steps": steps,
        "agent_updates": int(model._n_updates),
        "seconds": round(dt, 2),
        "steps_per_s": round(steps / dt, 1),
        "replay_bytes": int(nbytes),
        "peak_rss_increase_mb": round(peak_mb() - base, 1),
        "torch_threads": torch.get_num_threads(),
    }


def _child(fn: str, steps: int, threads: int | None, device: str, q: Any) -> None:
    q.put(globals()[fn](steps, threads, device))


def in_fresh_process(fn: str, steps: int, threads: int | None, device: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(fn, steps, threads, device, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=10_000, help="agent steps per library")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="cpu", help="torch device for both libraries")
    ap.add_argument(
        "--only-dynaworld", action="store_true", help="skip SB3 (e.g. where it is not installed)"
    )
    a = ap.parse_args()
    ours = in_fresh_process("run_dynaworld", a.steps, a.threads, a.device)
    print("dynaworld:", ours, flush=True)
    result = {
        "benchmark": "dqn_throughput",
        "env": "ALE/Pong-v5",
        "agent_steps": a.steps,
        "dynaworld": ours,
    }
    if a.only_dynaworld:
        print(json.dumps(result))
        return
    sb3 = in_fresh_process("run_sb3", a.steps, a.threads, a.device)
    print("stable-baselines3:", sb3, flush=True)
    print(
        json.dumps(
            {
                **result,
                "sb3": sb3,
                "steps_per_s_ratio": round(ours["steps_per_s"] / sb3["steps_per_s"], 3),
                "replay_bytes_ratio": round(ours["replay_bytes"] / sb3["replay_bytes"], 4),
                "peak_rss_ratio": round(
                    ours["peak_rss_increase_mb"] / max(1e-9, sb3["peak_rss_increase_mb"]), 4
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
