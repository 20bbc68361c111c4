"""Does torch.compile make the MinAtar DQN update cheaper on CPU? (issue 43, point 5)

    python benchmarks/compile_update.py

Times one update (online and target forward, Huber loss, backward, clipping, fused Adam; batch 32,
one thread): eager, then with the loss compiled (inductor, default mode; compile time printed),
then eager again in the same process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from dynaworld.agents.networks import MinAtarNet

B = 32


def main() -> None:
    torch.set_num_threads(1)
    net, target = MinAtarNet(4, 6), MinAtarNet(4, 6)
    opt = torch.optim.Adam(net.parameters(), lr=2.5e-4, eps=0.01, fused=True)
    rng = np.random.default_rng(0)
    obs = torch.from_numpy((rng.random((B, 4, 10, 10)) < 0.1).astype(np.float32))
    data = (obs, obs.flip(0), torch.from_numpy(rng.integers(6, size=B)), torch.rand(B))

    def loss_fn(
        o: torch.Tensor, o2: torch.Tensor, a: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        q = net(o).gather(1, a[:, None]).squeeze(1)
        with torch.no_grad():
            y = r + 0.99 * target(o2).max(1).values
        return F.huber_loss(q, y)

    def step(fn: Callable[..., torch.Tensor]) -> None:
        opt.zero_grad(set_to_none=True)
        fn(*data).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()

    def ms(fn: Callable[..., torch.Tensor], n: int = 300) -> float:
        for _ in range(30):
            step(fn)
        t = time.perf_counter()
        for _ in range(n):
            step(fn)
        return (time.perf_counter() - t) / n * 1e3

    print(f"eager: {ms(loss_fn):.2f} ms an update")
    t = time.perf_counter()
    compiled = torch.compile(loss_fn)
    step(compiled)
    print(f"compile: {time.perf_counter() - t:.1f} s")
    print(f"compiled: {ms(compiled):.2f} ms an update")
    print(f"eager again: {ms(loss_fn):.2f} ms an update")


if __name__ == "__main__":
    main()
