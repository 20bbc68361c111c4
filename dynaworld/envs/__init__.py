"""One ``make_env`` for every environment: any Gymnasium id, Atari (ale-py) and MinAtar.

Observations become what DQN's networks take: float32 vectors (a ``Discrete`` observation one-hot
encoded), channels-first uint8 images. ``Discrete(n, start=s)`` actions are presented as
``Discrete(n)`` and shifted back. Spaces DQN cannot use (continuous actions, Tuple/Dict
observations) are refused when the env is made, before any work. A user's own env works as
``env.id=mypkg.envs:MyEnv-v0`` (Gymnasium's syntax: the module is imported first) or through
``env.imports``. Every wrapper records its constructor arguments, so ``gym.make(env.spec)``
rebuilds the env.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import RecordConstructorArgs

from dynaworld.config import EnvConfig
from dynaworld.envs.atari import rom_name
from dynaworld.envs.partial import HideVelocities
from dynaworld.errors import ConfigError, EnvironmentNotFound
from dynaworld.imports import Roots, import_installed

_registered: set[str] = set()
ATARI_ID = "dynaworld/Atari-v0"  # dynaworld's Atari env, registered so env.spec rebuilds it


def register_all(env_id: str | None = None) -> None:
    """Register ale-py's ``ALE/...``, MinAtar's ``MinAtar/...`` and dynaworld's Atari env; with
    ``env_id``, only the family it needs (importing MinAtar imports seaborn, scipy and matplotlib:
    seconds a CartPole run does not need)."""
    atari = env_id is None or is_atari(env_id) or env_id == ATARI_ID
    if atari and "atari" not in _registered:
        import ale_py

        gym.register_envs(ale_py)
        if ATARI_ID not in gym.registry:
            gym.register(
                ATARI_ID,
                entry_point="dynaworld.envs.atari:AtariEnv",
                order_enforce=False,
                disable_env_checker=True,
            )
        _registered.add("atari")
    if (env_id is None or is_minatar(env_id)) and "minatar" not in _registered:
        try:
            import minatar.gym

            if not any(k.startswith("MinAtar/") for k in gym.registry):
                minatar.gym.register_envs()
        except ImportError:  # pragma: no cover - minatar is a dependency
            pass
        _registered.add("minatar")


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/")


def is_minatar(env_id: str) -> bool:
    return env_id.startswith("MinAtar/")


def import_env_modules(modules: list[str] | tuple[str, ...], refuse_under: Roots = None) -> None:
    """Import the modules that register a user's env ids (``env.imports``, ``module:EnvId``);
    ``refuse_under``: the folders being loaded, whose own files are never imported."""
    for name in modules:
        try:
            import_installed(name, "env module", refuse_under)
        except ImportError as e:
            raise EnvironmentNotFound(f"{e} (env.imports / env.id 'module:EnvId')") from None


def check_env_id(env_id: str) -> None:
    """Raise EnvironmentNotFound (with the closest ids) unless ``env_id`` can be made."""
    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        import_env_modules([module])
    register_all(env_id)
    if env_id not in gym.registry:
        register_all()  # every family's ids, for the closest ones
    if env_id in gym.registry:
        if is_atari(env_id):
            import ale_py

            if ale_py.roms.get_rom_path(rom_name(env_id)) is None:  # pragma: no cover
                raise EnvironmentNotFound(f"{env_id}: ale-py has no ROM '{rom_name(env_id)}'")
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise EnvironmentNotFound(f"unknown environment id '{env_id}'{hint}")


class Float32Observation(gym.ObservationWrapper, RecordConstructorArgs):
    """A vector observation as float32 (a ``Discrete`` one one-hot encoded, MultiBinary as 0/1)."""

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        space = env.observation_space
        if isinstance(space, gym.spaces.Discrete):
            self.n, self.start = int(space.n), int(space.start)
            self.observation_space = gym.spaces.Box(0.0, 1.0, (self.n,), np.float32)
        elif isinstance(space, gym.spaces.MultiBinary):
            self.n = 0
            self.observation_space = gym.spaces.Box(
                0.0, 1.0, (int(np.prod(space.shape)),), np.float32
            )
        else:
            assert isinstance(space, gym.spaces.Box)
            self.n = 0
            self.observation_space = gym.spaces.Box(
                space.low.astype(np.float32), space.high.astype(np.float32), space.shape, np.float32
            )

    def observation(self, observation: Any) -> np.ndarray:
        if self.n:
            v = np.zeros(self.n, np.float32)
            v[int(observation) - self.start] = 1.0
            return v
        return np.asarray(observation, dtype=np.float32).reshape(self.observation_space.shape)


class ChannelsFirst(gym.ObservationWrapper, RecordConstructorArgs):
    """(H, W, C) images → (C, H, W) uint8, the layout of every image network here."""

    def __init__(self, env: gym.Env, high: int = 255) -> None:
        RecordConstructorArgs.__init__(self, high=high)
        gym.ObservationWrapper.__init__(self, env)
        h, w, c = env.observation_space.shape  # type: ignore[misc]
        self.observation_space = gym.spaces.Box(0, high, (c, h, w), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(observation.transpose(2, 0, 1), dtype=np.uint8)


class MinAtarObservation(ChannelsFirst):
    """MinAtar's (10, 10, C) bool grid → (C, 10, 10) uint8 in {0, 1}, seeded by ``reset``."""

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        super().__init__(env, high=1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:
            # A PCG64-backed RandomState: same API for the game, but its state is two integers,
            # so the perfect model saves and restores it in ~1 µs instead of ~30 µs (MT19937).
            game = self.env.unwrapped.game  # type: ignore[attr-defined]
            game.random = game.env.random = np.random.RandomState(np.random.PCG64(seed))
            u = self.env.unwrapped  # MinAtar's env does not seed Gymnasium's np_random itself
            u._np_random, u._np_random_seed = gym.utils.seeding.np_random(seed)
        return super().reset(seed=None, options=options)


class ZeroBasedActions(gym.ActionWrapper, RecordConstructorArgs):
    """``Discrete(n, start=s)`` presented as ``Discrete(n)``: action a is sent as a + s."""

    def __init__(self, env: gym.Env) -> None:
        RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        space = env.action_space
        assert isinstance(space, gym.spaces.Discrete)
        self.start = int(space.start)
        self.action_space = gym.spaces.Discrete(int(space.n))

    def action(self, action: Any) -> int:
        return int(action) + self.start


def check_spaces(env: gym.Env, env_id: str) -> None:
    """Raise ConfigError unless DQN can use ``env``'s spaces, naming the space and what works."""
    a, o = env.action_space, env.observation_space
    if not isinstance(a, gym.spaces.Discrete):
        raise ConfigError(
            f"env.id={env_id}: its action space is {a}; dynaworld's agents (DQN) need Discrete "
            "actions (continuous Box actions are not supported: discretise them in a wrapper)"
        )
    if not isinstance(o, gym.spaces.Box | gym.spaces.Discrete | gym.spaces.MultiBinary):
        raise ConfigError(
            f"env.id={env_id}: its observation space is {o}; dynaworld supports Box (vectors, "
            "images), Discrete (one-hot encoded) and MultiBinary observations, not "
            f"{type(o).__name__} (flatten it with gymnasium.wrappers.FlattenObservation)"
        )


def _is_hwc_image(space: gym.Space) -> bool:
    shape = space.shape or ()
    return (
        isinstance(space, gym.spaces.Box)
        and space.dtype == np.uint8
        and len(shape) == 3
        and shape[-1] <= 4 < min(shape[0], shape[1])
    )


def make_env(
    cfg: EnvConfig | str, *, train: bool = True, render_mode: str | None = None, **overrides: Any
) -> gym.Env:
    """Build environment E from its config (or just an id); ``render_mode='rgb_array'`` for frames
    (``dynaworld.watch``; Atari renders its screen whatever the mode).

    ``train=True`` applies the training-only signals (clipped rewards, life-loss terminals);
    evaluation envs report raw scores. Every env puts ``info["episode"] = {"r", "l"}`` (raw return
    and length) at the end of an episode.
    """
    if isinstance(cfg, str):
        cfg = EnvConfig(id=cfg)
    if overrides:
        cfg = EnvConfig(**{**cfg.__dict__, **overrides})
    import_env_modules(cfg.imports)
    check_env_id(cfg.id)
    if is_atari(cfg.id):
        settings = dict(
            game=rom_name(cfg.id),
            frame_skip=cfg.frame_skip,
            frame_stack=cfg.frame_stack,
            screen_size=cfg.screen_size,
            noop_max=cfg.noop_max,
            sticky_actions=0.25 if cfg.sticky_actions is None else cfg.sticky_actions,
            full_action_space=cfg.full_action_space,
            max_episode_steps=27_000 if cfg.max_episode_steps is None else cfg.max_episode_steps,
            clip_rewards=cfg.clip_rewards and train,
            terminal_on_life_loss=cfg.terminal_on_life_loss and train,
        )
        # through the spec's kwargs: gym.make's own max_episode_steps would add a TimeLimit
        return gym.make(dataclasses.replace(gym.spec(ATARI_ID), kwargs=settings))
    kwargs: dict[str, Any] = {"render_mode": render_mode} if render_mode else {}
    if is_minatar(cfg.id) and cfg.sticky_actions is not None:
        kwargs["sticky_action_prob"] = cfg.sticky_actions
    env = gym.make(cfg.id, max_episode_steps=cfg.max_episode_steps, **kwargs)
    check_spaces(env, cfg.id)
    if int(env.action_space.start) != 0:  # type: ignore[attr-defined]
        env = ZeroBasedActions(env)
    space = env.observation_space
    if is_minatar(cfg.id):
        env = MinAtarObservation(env)
    elif _is_hwc_image(space):
        env = ChannelsFirst(env)
    elif not (isinstance(space, gym.spaces.Box) and space.dtype == np.uint8):
        env = Float32Observation(env)
    if cfg.hide_velocities:
        env = HideVelocities(env, cfg.id)
    return gym.wrappers.RecordEpisodeStatistics(env)
