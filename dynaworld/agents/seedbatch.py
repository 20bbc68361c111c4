"""Many seeds as one program: N DQN agents whose Q-networks are stacked along a seed axis.

Each seed keeps its own ``DQNAgent`` (epsilon schedule, random stream, counters, checkpoint), its
own environment, replay buffer, sampler and model, and runs its own ``Loop`` in a thread. The
agents' networks live in one stacked tensor per parameter (seed axis first); each agent's own
``q`` and ``target`` are views of its slice, so evaluation and model rollouts read it unchanged.
The two costs that batch, action choice and UPDATEAGENT, meet in a ``Lockstep``: when every seed
waits there, one ``vmap``-ed forward answers all N action choices, and one backward and one Adam
step (elementwise, so N independent Adams; gradients clipped per seed) make all N updates.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from dynaworld.agents.dqn import DQNAgent, to_tensor
from dynaworld.errors import DynaworldError
from dynaworld.types import Batch

Handler = Callable[[list[int], list[Any]], list[Any]]


class SeedsStopped(DynaworldError):
    """Another seed of the batched run failed; this one stopped at its last checkpoint."""


class Lockstep:
    """Where N seed threads meet. A call waits until every live seed waits; then the requests run,
    one batched handler call per kind, in seed order (so the result never depends on timing)."""

    def __init__(self, n: int, handlers: dict[str, Handler]) -> None:
        self.cv = threading.Condition()
        self.live = set(range(n))
        self.handlers = handlers
        self.pending: dict[int, tuple[str, Any]] = {}
        self.results: dict[int, Any] = {}
        self.failed: str | None = None
        self.before_fire: list[Callable[[], None]] = []

    def call(self, slot: int, kind: str, payload: Any) -> Any:
        with self.cv:
            self._check()
            self.pending[slot] = (kind, payload)
            self._fire()
            while slot not in self.results and self.failed is None:
                self.cv.wait()
            if slot not in self.results:
                self._check()
            result = self.results.pop(slot)
        if isinstance(result, BaseException):
            raise result
        return result

    def leave(self, slot: int, error: BaseException | None = None) -> None:
        with self.cv:
            self.live.discard(slot)
            if error is not None and self.failed is None:
                self.failed = f"seed slot {slot} failed ({type(error).__name__}: {error})"
                self.cv.notify_all()
            else:
                self._fire()

    def _check(self) -> None:
        if self.failed is not None:
            raise SeedsStopped(f"stopped with the batched run: {self.failed}")

    def _fire(self) -> None:
        if not self.pending or set(self.pending) != self.live:
            return
        for hook in self.before_fire:
            hook()
        kinds: dict[str, list[int]] = {}
        for slot in sorted(self.pending):
            kinds.setdefault(self.pending[slot][0], []).append(slot)
        for kind, slots in kinds.items():
            try:
                out = self.handlers[kind](slots, [self.pending[s][1] for s in slots])
            except Exception as e:  # noqa: BLE001 - delivered to every seed that asked
                out = [e] * len(slots)
            self.results.update(zip(slots, out, strict=True))
        self.pending.clear()
        self.cv.notify_all()


class SeedBatch:
    """The stacked program of N ``DQNAgent``s (same network, config and device; any seeds)."""

    def __init__(self, agents: Sequence[DQNAgent], lockstep: Lockstep) -> None:
        a0 = agents[0]
        for a in agents[1:]:
            if a.cfg != a0.cfg or a.device != a0.device or a.n_actions != a0.n_actions:
                raise DynaworldError("a batched run's seeds differ in their agent settings")
        if any(True for _ in a0.q.buffers()):
            raise DynaworldError("a batched run needs a Q-network without buffers")
        self.agents, self.lockstep, self.cfg = list(agents), lockstep, a0.cfg
        self.slot = {id(a): k for k, a in enumerate(agents)}
        self.names = [n for n, _ in a0.q.named_parameters()]
        self.template = copy.deepcopy(a0.q).to("meta")
        self.params = {
            n: self._stack([a.q for a in agents], n).requires_grad_() for n in self.names
        }
        self.target = {n: self._stack([a.target for a in agents], n) for n in self.names}
        c = a0.cfg
        self.optimizer = torch.optim.Adam(self.params.values(), lr=c.lr, eps=c.adam_eps, fused=True)
        self._stack_adam()
        for k, a in enumerate(agents):  # each agent's networks become views of its slice
            for net, stacked in ((a.q, self.params), (a.target, self.target)):
                for n in self.names:
                    _set_parameter(net, n, stacked[n].detach()[k])
            a.batch = self

    def _stack(self, nets: list[nn.Module], name: str) -> torch.Tensor:
        return torch.stack([dict(m.named_parameters())[name].detach() for m in nets]).contiguous()

    def _stack_adam(self) -> None:
        """The agents' Adam states (a resumed run's), stacked; all or none have made updates."""
        states: list[list[Any]] = [
            [a.optimizer.state.get(p) for p in a.q.parameters()] for a in self.agents
        ]
        if all(not s for per in states for s in per):
            return
        if any(not s for per in states for s in per):
            raise DynaworldError("a batched run's seeds resume from different update counts")
        for i, n in enumerate(self.names):
            rows = [per[i] for per in states]
            steps = {float(r["step"]) for r in rows}
            if len(steps) != 1:
                raise DynaworldError(f"a batched run's seeds made different numbers of updates: {steps}")  # fmt: skip
            self.optimizer.state[self.params[n]] = {
                "step": rows[0]["step"].clone(),
                "exp_avg": torch.stack([r["exp_avg"] for r in rows]).contiguous(),
                "exp_avg_sq": torch.stack([r["exp_avg_sq"] for r in rows]).contiguous(),
            }

    # ------------------------------------------------------------------ the batched calls
    def forward(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Q-values of every seed at once: ``x`` is (seeds, batch, ...), the result (seeds, batch, A)."""
        return vmap(lambda p, xx: functional_call(self.template, p, (xx,)))(params, x)

    def greedy(self, agent: DQNAgent, obs: np.ndarray) -> int:
        return int(self.lockstep.call(self.slot[id(agent)], "greedy", obs))

    def update(self, agent: DQNAgent, batch: Batch) -> None:
        self.lockstep.call(self.slot[id(agent)], "update", batch)

    def greedy_all(self, slots: list[int], obs: list[np.ndarray]) -> list[int]:
        x = to_tensor(np.stack(obs)[:, None], self.agents[0].device)
        params = self.params if len(slots) == len(self.agents) else self._rows(self.params, slots)
        with torch.inference_mode():
            return self.forward(params, x)[:, 0].argmax(-1).tolist()

    def _rows(self, stacked: dict[str, torch.Tensor], slots: list[int]) -> dict[str, torch.Tensor]:
        return {n: t[slots] for n, t in stacked.items()}

    def update_all(self, slots: list[int], batches: list[Batch]) -> list[None]:
        if len(slots) != len(self.agents):
            raise DynaworldError(
                f"a batched run's seeds are out of step: {len(slots)} of {len(self.agents)} update"
            )
        c, dev = self.cfg, self.agents[0].device

        def stacked(key: str) -> torch.Tensor:
            return to_tensor(np.stack([getattr(b, key) for b in batches]), dev)

        obs, next_obs = stacked("obs"), stacked("next_obs")
        action, reward = stacked("action").long(), stacked("reward").float()
        not_done = 1.0 - stacked("done").float()
        discount = c.gamma ** stacked("horizon").float()
        if c.double_dqn:
            q_obs, q_next_online = self.forward(self.params, torch.cat([obs, next_obs], 1)).split(
                obs.shape[1], dim=1
            )
        else:
            q_obs = self.forward(self.params, obs)
        q = q_obs.gather(2, action[..., None]).squeeze(2)
        with torch.no_grad():
            q_next = self.forward(self.target, next_obs)
            if c.double_dqn:
                v_next = q_next.gather(2, q_next_online.argmax(2, keepdim=True)).squeeze(2)
            else:
                v_next = q_next.max(2).values
            target = reward + not_done * discount * v_next
        losses = F.huber_loss(q, target, delta=c.huber_delta, reduction="none").mean(1)
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        if c.max_grad_norm is not None:
            self._clip(c.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            stats = torch.stack([losses.detach(), q.detach().mean(1), torch.ones_like(losses)], 1)
            for a, row in zip(self.agents, stats, strict=True):
                a.updates += 1
                a._stats += row
            if self.agents[0].updates % c.target_update_period == 0:
                for n in self.names:
                    self.target[n].copy_(self.params[n].detach())
        return [None] * len(slots)

    def _clip(self, max_norm: float) -> None:
        """``clip_grad_norm_`` for each seed's own gradient."""
        grads = [self.params[n].grad for n in self.names]
        sq = sum(g.pow(2).flatten(1).sum(1) for g in grads if g is not None)
        coef = (max_norm / (torch.as_tensor(sq).sqrt() + 1e-6)).clamp(max=1.0)
        for g in grads:
            if g is not None:
                g.mul_(coef.view(-1, *[1] * (g.dim() - 1)))

    # ------------------------------------------------------------------ one seed's checkpoint
    def state_dict(self, agent: DQNAgent) -> dict[str, Any]:
        """Seed ``agent``'s state in ``DQNAgent``'s own format (a single run can load it)."""
        k = self.slot[id(agent)]
        opt: dict[int, dict[str, torch.Tensor]] = {}
        for i, n in enumerate(self.names):
            s = self.optimizer.state.get(self.params[n])
            if s:
                opt[i] = {"step": s["step"].clone(), "exp_avg": s["exp_avg"][k].clone(),
                          "exp_avg_sq": s["exp_avg_sq"][k].clone()}  # fmt: skip
        return {
            "q": {n: self.params[n].detach()[k].clone() for n in self.names},
            "target": {n: self.target[n][k].clone() for n in self.names},
            "optimizer": {
                "state": opt,
                "param_groups": agent.optimizer.state_dict()["param_groups"],
            },
            "rng": agent.rng.bit_generator.state,
            "steps": agent.steps,
            "updates": agent.updates,
            "stats": agent._stats.cpu(),
        }


def _set_parameter(net: nn.Module, name: str, value: torch.Tensor) -> None:
    *path, leaf = name.split(".")
    module = net
    for p in path:
        module = getattr(module, p)
    module._parameters[leaf] = nn.Parameter(value, requires_grad=False)


def lockstep_for(n: int) -> tuple[Lockstep, Callable[[list[DQNAgent]], SeedBatch]]:
    """A ``Lockstep`` for ``n`` seeds whose 'join' request stacks their agents into a ``SeedBatch``."""
    holder: dict[str, SeedBatch] = {}
    lock = Lockstep(n, {})

    def join(slots: list[int], agents: list[DQNAgent]) -> list[None]:
        if len(slots) != n:
            raise DynaworldError(f"only {len(slots)} of {n} seeds reached the start")
        holder["batch"] = SeedBatch(agents, lock)
        return [None] * n

    lock.handlers.update(
        join=join,
        greedy=lambda s, p: holder["batch"].greedy_all(s, p),
        update=lambda s, p: holder["batch"].update_all(s, p),
    )
    return lock, lambda agents: holder["batch"]
