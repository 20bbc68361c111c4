"""Algorithm 1's settings: model-free, Dyna, purely model-based, and the replay buffer as model."""

import numpy as np
import torch

from dynaworld.loop import Loop, LoopState, Planning, Ratio, every
from dynaworld.models import ReplayModel, ReplayWriter
from dynaworld.replay import ReplayBuffer, UniformSampler
from dynaworld.types import Batch
from tests.chain import Chain, TableModel, TableSampler, TabularQ


def steps_to_optimal(make_loop, max_iterations=400) -> int:
    loop = make_loop()
    for k in range(1, max_iterations + 1):
        loop.K = k
        loop.run()
        if loop.agent.optimal():
            return loop.state.env_steps
    return 10**9


def test_model_free_learns_from_real_transitions_only():
    agent = TabularQ(8, seed=1)
    loop = Loop(Chain(), agent, planning=[], K=600, M=1, learn_from_real=True)
    st = loop.run()
    assert st.env_steps == 600 and st.agent_updates == 600 and st.model_transitions == 0
    assert all(len(b) == 1 for b in agent.updates)
    assert agent.optimal()


def test_dyna_needs_fewer_real_steps_than_model_free():
    def model_free():
        return Loop(Chain(), TabularQ(8, seed=2), K=1, M=10, learn_from_real=True)

    def dyna():
        m = TableModel()
        return Loop(
            Chain(),
            TabularQ(8, seed=2),
            [Planning(m, TableSampler(m, seed=3), every(1, 5))],
            K=1,
            M=10,
            learn_from_real=True,
        )

    n_free, n_dyna = steps_to_optimal(model_free), steps_to_optimal(dyna)
    assert n_dyna < 10**9 and n_dyna * 2 <= n_free, (n_dyna, n_free)


def test_purely_model_based_learns_only_from_the_model():
    m = TableModel()
    agent = TabularQ(8, seed=4)
    loop = Loop(
        Chain(),
        agent,
        [Planning(m, TableSampler(m, batch=8, seed=5), every(1, 2))],
        K=300,
        M=1,
        learn_from_real=False,
    )
    st = loop.run()
    assert st.agent_updates == m.calls == len(agent.updates) == 2 * 300
    assert st.model_transitions == 8 * 2 * 300
    assert agent.optimal()


def test_replay_model_returns_the_stored_transition():
    env = Chain(n=5, cap=7)
    buf = ReplayBuffer(100, (5,), np.float32)
    m = ReplayModel(buf)
    agent = TabularQ(5, eps=1.0, seed=0)
    planning = [Planning(m, UniformSampler(buf, 4, seed=0), lambda s: 0)]
    seen: list = []  # D as a list too: the k-th real transition, as the loop saw it

    class Log:
        def add(self, t):
            seen.append((t.obs, t.action, t.reward, t.next_obs, t.done))

    Loop(env, agent, planning, data=[ReplayWriter(buf), Log()], K=40).run()
    q = UniformSampler(buf, 16, seed=1).sample(None)
    pred = m.step(q)
    slots = [
        i for i in range(buf.t) if buf.has_next[i]
    ]  # a frame buffer: one slot per episode more
    assert len(seen) == len(slots) == 40 and len(set(q.key.tolist())) > 1
    for k, o, a, r, o2, done in zip(
        q.key, q.obs, q.action, pred.reward, pred.next_obs, pred.done, strict=True
    ):
        s, sa, sr, s2, sd = seen[slots.index(int(k))]  # the transition that slot k stores
        assert np.array_equal(o, s) and a == sa and r == sr and np.array_equal(o2, s2)
        assert done == sd


def test_a_model_reading_a_buffer_that_no_data_writer_fills_is_refused_before_any_step():
    import pytest

    from dynaworld.errors import DynaworldError

    buf = ReplayBuffer(100, (5,), np.float32)
    planning = [Planning(ReplayModel(buf), UniformSampler(buf, 4, seed=0), lambda s: 1)]
    loop = Loop(Chain(n=5), TabularQ(5), planning, data=[], K=10)  # ReplayWriter(buf) forgotten
    with pytest.raises(DynaworldError, match=r"ReplayModel learns from a replay buffer .* ReplayWriter"):  # fmt: skip
        loop.run()
    assert loop.state.env_steps == 0 and len(buf) == 0


def test_ratio_schedule_counts_and_is_resumable():
    P = Ratio(0.25, start=10)
    total, st = 0, LoopState()
    for t in range(1, 51):
        st.iteration_start, st.env_steps = t - 1, t
        total += P(st)
    assert total == 10  # steps 14, 18, ..., 50
    st.iteration_start, st.env_steps = 10, 50  # one iteration of M=40 gives the same count
    assert P(st) == 10
    assert (
        sum(Ratio(1 / 3)(LoopState(env_steps=t, iteration_start=t - 1)) for t in range(1, 301))
        == 100
    )
    # a learned model's UPDATEMODEL counts on the same schedule, one real step at a time
    assert [P.between(t - 1, t) for t in range(9, 19)] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]


class Recorder:
    def __init__(self, agent):
        self.agent, self.log = agent, []

    def act(self, obs):
        return self.agent.act(obs)

    def update(self, batch: Batch):
        self.log.append((batch.obs.copy(), batch.action.copy(), batch.reward.copy()))
        self.agent.update(batch)


def _plain_dqn(cfg, log):
    """Textbook DQN (no loop, no model): act, store, every 1/r steps sample a minibatch and update."""
    from dynaworld.agents import DQNAgent, q_network
    from dynaworld.build import seeds
    from dynaworld.envs import make_env

    s_torch, s_env, s_agent, s_sampler = seeds(cfg.seed, 4)
    torch.manual_seed(s_torch)
    env = make_env(cfg.env)
    net = q_network(
        cfg.agent.network, env.observation_space.shape, env.action_space.n, cfg.agent.hidden
    )
    agent = DQNAgent(net, env.action_space.n, cfg.agent, "cpu", seed=s_agent)
    buf = ReplayBuffer(
        cfg.replay.capacity, env.observation_space.shape, env.observation_space.dtype
    )
    rng = np.random.Generator(np.random.PCG64(s_sampler))
    obs, _ = env.reset(seed=s_env)
    new_episode, every_n = True, round(1 / cfg.replay.updates_per_step)
    L = cfg.replay.learning_starts
    for step in range(1, cfg.total_steps + 1):
        a = agent.act(obs)
        nxt, r, term, trunc, _ = env.step(a)
        if new_episode:
            buf.start_episode(obs)
        buf.add(a, r, term, nxt)
        new_episode = term or trunc
        obs = env.reset()[0] if new_episode else nxt
        if step > L and (step - L) % every_n == 0:
            idx = buf.sample_indices(cfg.agent.batch_size, rng)
            ret, nidx, done, h = buf.transitions(idx, cfg.agent.n_step, cfg.agent.gamma)
            batch = Batch(
                buf.observations(idx),
                buf.actions[idx % buf.capacity],
                ret,
                buf.observations(nidx),
                done,
                h,
            )
            log.append((batch.obs.copy(), batch.action.copy(), batch.reward.copy()))
            agent.update(batch)
    return agent


def test_dqn_as_dyna_with_replay_model_equals_plain_dqn():
    """The lecture's claim, as code: DQN = Algorithm 1 with m = replay buffer, d = uniform replay."""
    from dynaworld.build import build
    from dynaworld.config import load_config

    for overrides in (
        ["env.id=CartPole-v1", "replay.updates_per_step=0.25"],
        ["env.id=MinAtar/Breakout-v1", "replay.updates_per_step=1.0", "agent.n_step=3"],
    ):
        cfg = load_config(
            None,
            [
                "total_steps=1500",
                "replay.learning_starts=300",
                "agent.batch_size=16",
                "agent.target_update_period=50",
                "replay.capacity=1000",
                "progress=false",
                *overrides,
            ],
        )
        plain_log: list = []
        plain = _plain_dqn(cfg, plain_log)
        c = build(cfg)
        rec = Recorder(c.agent)
        c.loop.agent = rec
        c.loop.run()
        assert len(plain_log) == len(rec.log) == c.loop.state.agent_updates > 100
        for (o1, a1, r1), (o2, a2, r2) in zip(plain_log, rec.log, strict=True):
            np.testing.assert_array_equal(o1, o2)
            np.testing.assert_array_equal(a1, a2)
            np.testing.assert_array_equal(r1, r2)
        for p1, p2 in zip(plain.q.parameters(), c.agent.q.parameters(), strict=True):
            assert torch.equal(p1, p2)


class _Count:
    """A sink counting what it is shown."""

    def __init__(self) -> None:
        self.begun, self.steps, self.ended = [], 0, []

    def begin(self, episode, obs):
        self.begun.append(episode)

    def step(self, episode, action, reward, terminated, obs, done):
        self.steps += 1

    def end(self, episode):
        self.ended.append(episode)


def test_played_episodes_are_seeded_cut_and_shown_to_every_sink():
    import gymnasium as gym

    import tests.toy_envs  # noqa: F401  (registers Forever-v0)
    from dynaworld.episodes import PerEpisode, play_episodes

    envs = [gym.make("CartPole-v1") for _ in range(3)]

    def coin(seed):
        rng = np.random.default_rng(seed)
        return lambda obs: int(rng.integers(2))

    random = PerEpisode(coin)
    sink = _Count()
    lockstep = play_episodes(envs, random, list(range(10, 17)), sinks=[sink])
    alone = [play_episodes(envs[:1], random, [s])[0] for s in range(10, 17)]
    assert sorted(lockstep) == sorted(alone) and len(set(alone)) > 1  # seeds, not slots, decide
    assert sorted(sink.begun) == sorted(sink.ended) == list(range(7))
    assert sink.steps == sum(alone)  # CartPole: reward 1 a step
    forever = [gym.make("Forever-v0") for _ in range(2)]
    assert play_episodes(forever, random, [0, 1, 2], max_steps=25) == [25.0, 25.0, 25.0]


def test_world_models_shape_episodes_then_one_refit_then_generations_in_the_dream():
    """World Models' setting of the same loop, in miniature on the chain: E an
    ``EpisodeEnvironment`` (an interaction is a whole episode, ``first_M`` of them in iteration 1,
    M after), UPDATEMODEL one refit of a table model on all of D, then P generations of a
    population agent scored in that model's dream. Iteration 1's random episodes are enough for
    C_1 to solve the dream, and iteration 2's real episodes, played by C_1, reach the goal."""
    from dynaworld.episodes import PerEpisode, play_episodes
    from dynaworld.loop import EpisodeEnvironment, Evolution

    n, log = 8, []

    class Search:  # π: a (1 + λ) search over action tables (action = table[s] > 0)
        def __init__(self) -> None:
            self.rng, self.best, self.generation = np.random.default_rng(0), None, 0

        def actor(self, seed: int):
            rng = np.random.default_rng(seed)
            if self.best is None:  # iteration 1: random actions
                return lambda obs: int(rng.integers(2))
            return lambda obs: int(self.best[int(obs.argmax())] > 0)

        def ask(self) -> np.ndarray:
            mean = np.zeros(n) if self.best is None else self.best
            return mean + self.rng.normal(size=(16, n))

        def tell(self, candidates: np.ndarray, returns: np.ndarray) -> dict:
            self.best, self.generation = candidates[int(np.argmax(returns))], self.generation + 1
            log.append(("generation", self.generation, float(returns.max())))
            return {}

    class Rollouts:  # E: M whole episodes of π on the real chain, their transitions into D
        def __init__(self) -> None:
            self.D: list[tuple[int, int, int]] = []

        def play(self, pi: Search, episodes: int, st: LoopState) -> None:
            seeds = range(100 * st.iteration, 100 * st.iteration + episodes)
            returns = play_episodes([Chain(n)], PerEpisode(pi.actor), list(seeds), sinks=[self])
            log.append(("episodes", st.iteration + 1, episodes, sum(returns)))

        def begin(self, episode: int, obs: np.ndarray) -> None:
            self.s = int(obs.argmax())

        def step(self, episode, action, reward, terminated, obs, done) -> None:
            self.D.append((self.s, int(action), int(obs.argmax())))
            self.s = int(obs.argmax())

    class TableRefit:  # UPDATEMODEL on all of D: s' of each (s, a) seen; unseen: stay
        def refit(self, st: LoopState) -> None:
            self.next = {(s, a): s2 for s, a, s2 in E.D}
            log.append(("refit", st.iteration + 1, len(self.next)))

    def dream(candidates: np.ndarray, generation: int) -> np.ndarray:
        out = np.zeros(len(candidates))
        for i, table in enumerate(candidates):
            s = 0
            for _ in range(50):
                s = m.next.get((s, int(table[s] > 0)), s)
                if s == n - 1:
                    out[i] = 1.0
                    break
        return out

    E, m, pi = Rollouts(), TableRefit(), Search()
    assert isinstance(E, EpisodeEnvironment)
    import pytest

    from dynaworld.errors import DynaworldError

    for inert in ({"data": [ReplayWriter(ReplayBuffer(10, (n,), np.float32))]}, {"learn_from_real": True}):  # fmt: skip
        with pytest.raises(DynaworldError, match="EpisodeEnvironment's play writes"):
            Loop(E, pi, planning=[Evolution(dream, 3)], **inert).run()  # would do nothing
    assert log == []
    loop = Loop(E, pi, planning=[Evolution(dream, 3)], K=1, M=5, first_M=20, refit=[m])
    loop.run()
    loop.K, loop.planning = 2, [Evolution(dream, 6)]
    loop.run()
    kinds = [e[0] for e in log]
    assert kinds == ["episodes", "refit"] + ["generation"] * 3 + ["episodes", "refit"] + ["generation"] * 3  # fmt: skip
    assert log[0][2] == 20 and log[5][2] == 5  # first_M episodes, then M
    assert log[4][2] == 1.0  # C_1 reaches the goal in the dream of iteration 1's model
    assert log[5][3] == 5.0  # ... and in reality: all 5 of C_1's episodes reach it


def test_the_how_to_population_method_runs_and_solves_cartpole(capsys):
    """docs/howto.md's population method runs as printed: π's real episodes reach 500."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "howto.md").read_text()
    section = text.split("## Your own population method", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "howto.md", "exec"), {"__name__": "howto"})
    printed = capsys.readouterr().out
    assert (
        "iteration 1: π's mean return" in printed
        and "iteration 3: π's mean return 500.0" in printed
    )
