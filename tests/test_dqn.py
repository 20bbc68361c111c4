import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dynaworld.agents import DQNAgent, q_network
from dynaworld.agents.networks import MinAtarNet, NatureCNN
from dynaworld.config import AgentConfig
from dynaworld.types import Batch


def make_agent(**kw) -> DQNAgent:
    torch.manual_seed(0)
    cfg = AgentConfig(**{"network": "mlp", "hidden": [16], "target_update_period": 3, **kw})
    return DQNAgent(q_network("mlp", (4,), 2, cfg.hidden), 2, cfg, "cpu", seed=0)


def batch(n=8, seed=0) -> Batch:
    rng = np.random.default_rng(seed)
    return Batch(
        rng.normal(size=(n, 4)).astype(np.float32),
        rng.integers(2, size=n),
        rng.normal(size=n).astype(np.float32),
        rng.normal(size=(n, 4)).astype(np.float32),
        rng.random(n) < 0.3,
        rng.integers(1, 4, size=n),
    )


def test_network_shapes():
    assert NatureCNN(4, 6)(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)
    assert MinAtarNet(4, 3)(torch.zeros(2, 4, 10, 10, dtype=torch.uint8)).shape == (2, 3)
    assert isinstance(q_network("auto", (4, 84, 84), 6), NatureCNN)
    assert isinstance(q_network("auto", (7, 10, 10), 6), MinAtarNet)


@pytest.mark.parametrize("double", [False, True])
def test_loss_is_huber_on_the_dqn_target(double):
    agent = make_agent(double_dqn=double, max_grad_norm=None)
    b = batch()
    with torch.no_grad():
        obs, nxt = torch.from_numpy(b.obs), torch.from_numpy(b.next_obs)
        q = agent.q(obs).gather(1, torch.from_numpy(b.action)[:, None]).squeeze(1)
        if double:
            best = agent.q(nxt).argmax(1, keepdim=True)
            v = agent.target(nxt).gather(1, best).squeeze(1)
        else:
            v = agent.target(nxt).max(1).values
        g = 0.99 ** torch.from_numpy(b.horizon).float()
        target = torch.from_numpy(b.reward) + (1 - torch.from_numpy(b.done).float()) * g * v
        expected = F.huber_loss(q, target).item()
    agent.update(b)
    assert agent.pop_metrics()["loss"] == pytest.approx(expected, rel=1e-5)


def test_target_network_synced_every_period():
    agent = make_agent(lr=0.1)
    for i in range(1, 7):
        agent.update(batch(seed=i))
        same = all(
            torch.equal(a, b)
            for a, b in zip(agent.q.parameters(), agent.target.parameters(), strict=True)
        )
        assert same == (i % 3 == 0)


def test_epsilon_schedule_and_batched_policy():
    agent = make_agent(eps_start=1.0, eps_end=0.1, eps_decay_steps=100)
    assert agent.epsilon() == 1.0
    obs = np.zeros(4, np.float32)
    for _ in range(50):
        agent.act(obs)
    assert agent.epsilon() == pytest.approx(0.55)
    for _ in range(100):
        agent.act(obs)
    assert agent.epsilon() == pytest.approx(0.1)
    acts = agent.policy(np.zeros((10, 4), np.float32), 0.0)
    assert acts.shape == (10,) and len(set(acts.tolist())) == 1


def test_state_dict_round_trip():
    a, b = make_agent(), make_agent(lr=0.5)
    for i in range(4):
        a.update(batch(seed=i))
    b.load_state_dict(a.state_dict())
    assert b.updates == a.updates
    x = torch.randn(3, 4)
    assert torch.equal(a.q(x), b.q(x)) and torch.equal(a.target(x), b.target(x))
