"""One ``make_env`` for every environment: any Gymnasium id, Atari (ale-py) and MinAtar."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym
import numpy as np

from dynaworld.config import EnvConfig
from dynaworld.errors import EnvironmentNotFound

_registered = False


def register_all() -> None:
    """Register ale-py's ``ALE/...`` and MinAtar's ``MinAtar/...`` ids with Gymnasium."""
    global _registered
    if _registered:
        return
    import ale_py

    gym.register_envs(ale_py)
    try:
        import minatar.gym

        if not any(k.startswith("MinAtar/") for k in gym.registry):
            minatar.gym.register_envs()
    except ImportError:  # pragma: no cover - minatar is a dependency
        pass
    _registered = True


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/")


def is_minatar(env_id: str) -> bool:
    return env_id.startswith("MinAtar/")


def check_env_id(env_id: str) -> None:
    """Raise EnvironmentNotFound (with the closest ids) unless ``env_id`` can be made."""
    register_all()
    if env_id in gym.registry:
        if is_atari(env_id):
            import ale_py

            from dynaworld.envs.atari import rom_name

            if ale_py.roms.get_rom_path(rom_name(env_id)) is None:  # pragma: no cover
                raise EnvironmentNotFound(f"{env_id}: ale-py has no ROM '{rom_name(env_id)}'")
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise EnvironmentNotFound(f"unknown environment id '{env_id}'{hint}")


class MinAtarObservation(gym.ObservationWrapper):
    """MinAtar's (10, 10, C) bool grid → (C, 10, 10) uint8, channels first like every image here."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        h, w, c = env.observation_space.shape  # type: ignore[misc]
        self.observation_space = gym.spaces.Box(0, 1, (c, h, w), np.uint8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:
            # A PCG64-backed RandomState: same API for the game, but its state is two integers,
            # so the perfect model saves and restores it in ~1 µs instead of ~30 µs (MT19937).
            game = self.env.unwrapped.game  # type: ignore[attr-defined]
            game.random = game.env.random = np.random.RandomState(np.random.PCG64(seed))
        return super().reset(seed=None, options=options)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(observation.transpose(2, 0, 1), dtype=np.uint8)


class Float32Observation(gym.ObservationWrapper):
    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(space.low, space.high, space.shape, np.float32)  # type: ignore[attr-defined]

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(observation, dtype=np.float32)


def make_env(cfg: EnvConfig | str, *, train: bool = True, **overrides: Any) -> gym.Env:
    """Build environment E from its config (or just an id).

    ``train=True`` applies the training-only signals (clipped rewards, life-loss terminals);
    evaluation envs report raw scores. Every env puts ``info["episode"] = {"r", "l"}`` (raw return
    and length) at the end of an episode.
    """
    if isinstance(cfg, str):
        cfg = EnvConfig(id=cfg)
    if overrides:
        cfg = EnvConfig(**{**cfg.__dict__, **overrides})
    check_env_id(cfg.id)
    if is_atari(cfg.id):
        from dynaworld.envs.atari import AtariEnv, rom_name

        return AtariEnv(
            rom_name(cfg.id),
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
    kwargs: dict[str, Any] = {}
    if is_minatar(cfg.id) and cfg.sticky_actions is not None:
        kwargs["sticky_action_prob"] = cfg.sticky_actions
    env = gym.make(cfg.id, max_episode_steps=cfg.max_episode_steps, **kwargs)
    if is_minatar(cfg.id):
        env = MinAtarObservation(env)
    elif (
        isinstance(env.observation_space, gym.spaces.Box)
        and env.observation_space.dtype != np.uint8
    ):
        env = Float32Observation(env)
    if cfg.hide_velocities:
        from dynaworld.envs.partial import HideVelocities

        env = HideVelocities(env, cfg.id)
    return gym.wrappers.RecordEpisodeStatistics(env)


def observation_kind(env: gym.Env) -> str:
    """'atari' (stacked 84x84 frames), 'minatar' (C x 10 x 10 grid) or 'vector'."""
    shape = env.observation_space.shape or ()
    if len(shape) == 3 and shape[1] == shape[2] == 10:
        return "minatar"
    if len(shape) == 3:
        return "atari"
    return "vector"
