"""Many seeds as one program, measured on its largest cost: N MinAtar DQN agents' updates and
action choices, one at a time (N separate agents) against batched (one program for N).

    python benchmarks/seed_throughput.py [--reps 30] [--seeds 1 4 10 20]

Per N: the milliseconds per seed of one Q-update (batch 32; online and target forward, Huber loss,
backward, per-seed gradient-norm clipping, Adam) and of one action choice, for
- sequential: N ``DQNAgent``s (the library's agent, fused Adam) one after another;
- vmap: ``torch.func.stack_module_state`` + ``functional_call`` + ``vmap(grad)``, one Adam over the
  stacked parameters (Adam is elementwise, so this is N independent Adams);
- grouped: the MinAtar network written for N seeds (a grouped convolution and batched matmuls).
One thread (``torch.set_num_threads(1)``). Last line: one JSON object with every figure and the
ratios sequential / batched at each N.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, stack_module_state, vmap

from dynaworld.agents import DQNAgent
from dynaworld.agents.networks import MinAtarNet
from dynaworld.config import AgentConfig
from dynaworld.types import Batch

C, A, B, SIZE = 4, 6, 32, 10  # MinAtar Breakout: 4 channels, 6 actions (as in MinAtar's Asterix)


def timed(fn: Callable[[], None], reps: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def batches(n: int, rng: np.random.Generator) -> list[Batch]:
    obs = rng.random((n, B, C, SIZE, SIZE)).astype(np.float32)
    return [
        Batch(obs=obs[i], action=rng.integers(A, size=B), reward=rng.random(B).astype(np.float32),
              next_obs=obs[i][::-1].copy(), done=np.zeros(B, bool), horizon=np.ones(B, np.int64))
        for i in range(n)
    ]  # fmt: skip


def stacked(data: list[Batch]) -> tuple[torch.Tensor, ...]:
    """N seeds' minibatches as (N, batch, ...) tensors: obs, next obs, actions, rewards."""
    return tuple(torch.from_numpy(np.stack([getattr(b, k) for b in data]))
                 for k in ("obs", "next_obs", "action", "reward"))  # fmt: skip


def sequential(n: int, reps: int, cfg: AgentConfig) -> tuple[float, float]:
    agents = []
    for s in range(n):
        torch.manual_seed(s)
        agents.append(DQNAgent(MinAtarNet(C, A), A, cfg, "cpu", seed=s))
    data = batches(n, np.random.default_rng(0))
    one = np.random.default_rng(1).random((n, 1, C, SIZE, SIZE)).astype(np.float32)

    def update() -> None:
        for agent, b in zip(agents, data, strict=True):
            agent.update(b)

    def act() -> None:
        for agent, o in zip(agents, one, strict=True):
            agent.greedy(o)

    return timed(update, reps) / n, timed(act, reps) / n


def vmapped(n: int, reps: int, cfg: AgentConfig) -> tuple[float, float]:
    nets = []
    for s in range(n):
        torch.manual_seed(s)
        nets.append(MinAtarNet(C, A))
    params, _ = stack_module_state(nets)
    names, base = list(params), copy.deepcopy(nets[0]).to("meta")
    online = [p.detach().clone() for p in params.values()]
    target = [p.clone() for p in online]
    opt = torch.optim.Adam(online, lr=cfg.lr, eps=cfg.adam_eps, foreach=True)
    x, x2, a, r = stacked(batches(n, np.random.default_rng(0)))

    def q(p: list[torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        return functional_call(base, dict(zip(names, p, strict=True)), (obs,))

    def loss(p: list[torch.Tensor], pt: list[torch.Tensor], o, o2, act, rew) -> torch.Tensor:  # noqa: ANN001
        with torch.no_grad():
            y = rew + cfg.gamma * q(pt, o2).max(1).values
        return F.huber_loss(q(p, o).gather(1, act[:, None]).squeeze(1), y)

    grads_of = vmap(grad(loss))
    batched_q = vmap(q)
    one = torch.rand(n, 1, C, SIZE, SIZE)

    def update() -> None:
        grads = grads_of(online, target, x, x2, a, r)
        norm = sum(g.pow(2).flatten(1).sum(1) for g in grads).sqrt()
        scale = (cfg.max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
        for p, g in zip(online, grads, strict=True):
            p.grad = g * scale.view(-1, *[1] * (g.dim() - 1))
        opt.step()

    def act() -> None:
        with torch.inference_mode():
            batched_q(online, one).argmax(-1)

    return timed(update, reps) / n, timed(act, reps) / n


def grouped(n: int, reps: int, cfg: AgentConfig) -> tuple[float, float]:
    def init(*shape: int, scale: float) -> torch.Tensor:
        return (torch.randn(*shape) * scale).requires_grad_()

    w1, b1 = init(n * 16, C, 3, 3, scale=0.1), init(n * 16, scale=0.0)
    w2, b2 = init(n, 16 * (SIZE - 2) ** 2, 128, scale=0.03), init(n, 1, 128, scale=0.0)
    w3, b3 = init(n, 128, A, scale=0.1), init(n, 1, A, scale=0.0)
    online = [w1, b1, w2, b2, w3, b3]
    target = [p.detach().clone() for p in online]
    opt = torch.optim.Adam(online, lr=cfg.lr, eps=cfg.adam_eps, foreach=True)
    x, x2, a, r = stacked(batches(n, np.random.default_rng(0)))

    def q(p: list[torch.Tensor], obs: torch.Tensor) -> torch.Tensor:  # obs: N, b, C, H, W
        b = obs.shape[1]
        h = F.conv2d(obs.transpose(0, 1).reshape(b, n * C, SIZE, SIZE), p[0], p[1], groups=n)
        h = h.relu().reshape(b, n, -1).transpose(0, 1)
        return torch.baddbmm(p[5], torch.baddbmm(p[3], h, p[2]).relu(), p[4])  # N, b, A

    def update() -> None:
        with torch.no_grad():
            y = r + cfg.gamma * q(target, x2).max(2).values
        pred = q(online, x).gather(2, a[..., None]).squeeze(2)
        opt.zero_grad(set_to_none=True)
        F.huber_loss(pred, y, reduction="none").mean(1).sum().backward()
        norm = sum(p.grad.reshape(n, -1).pow(2).sum(1) for p in online).sqrt()  # type: ignore[union-attr]
        scale = (cfg.max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
        for p in online:
            p.grad.view(n, -1).mul_(scale[:, None])  # type: ignore[union-attr]
        opt.step()

    one = torch.rand(n, 1, C, SIZE, SIZE)

    def act() -> None:
        with torch.inference_mode():
            q(online, one).argmax(-1)

    return timed(update, reps) / n, timed(act, reps) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 10, 20])
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = AgentConfig(lr=2.5e-4, adam_eps=0.01, max_grad_norm=10.0)
    out: dict[str, dict[str, float]] = {}
    print(
        "| N | update ms/seed: sequential | vmap | grouped | act ms/seed: sequential | vmap | grouped |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in a.seeds:
        (su, sa), (vu, va), (gu, ga) = (f(n, a.reps, cfg) for f in (sequential, vmapped, grouped))
        out[str(n)] = {"update_sequential_ms": su * 1e3, "update_vmap_ms": vu * 1e3,
                       "update_grouped_ms": gu * 1e3, "act_sequential_ms": sa * 1e3,
                       "act_vmap_ms": va * 1e3, "act_grouped_ms": ga * 1e3,
                       "update_ratio_vmap": su / vu, "update_ratio_grouped": su / gu,
                       "act_ratio_vmap": sa / va, "act_ratio_grouped": sa / ga}  # fmt: skip
        print(f"| {n} | {su * 1e3:.2f} | {vu * 1e3:.2f} | {gu * 1e3:.2f} | {sa * 1e3:.3f} | "
              f"{va * 1e3:.3f} | {ga * 1e3:.3f} |", flush=True)  # fmt: skip
    print(json.dumps({"threads": 1, "per_seed": out}))


if __name__ == "__main__":
    main()
