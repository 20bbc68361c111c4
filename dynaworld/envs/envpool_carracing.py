"""CarRacing-v3 on envpool's C++ simulator, seen exactly like ``make_wm_env("CarRacing-v3")``.

envpool reimplements Gymnasium's CarRacing (same track generator, car model, colours, zoom-in
animation, rewards) in C++ with Box2D 2.4 and OpenCV drawing; one env steps several times faster
than Gymnasium's pygame one. ``EnvpoolCarRacing`` drives a one-env pool and gives the World Models
interface: 64x64x3 uint8 frames (HUD rows 84:96 cropped, INTER_AREA resize by ``process_frame``),
a Box(3) action (steer [-1, 1], gas [0, 1], brake [0, 1]), 1,000-step episodes.

Differences from Gymnasium to know about (measured in ``benchmarks/carracing_backends.py``):

* Tracks come from ``std::mt19937(seed)``, not NumPy's PCG64, so ``reset(seed=s)`` gives a
  different track than Gymnasium's ``reset(seed=s)`` (the same *distribution* of tracks).
* envpool fixes its seed when the pool is made, so ``reset(seed=s)`` re-creates the pool
  (about 2 ms). ``reset()`` without a seed draws the next track from the pool's generator, so a
  seed fixes the whole sequence of episodes, as in Gymnasium. Without any seed, the first reset
  takes one from the env's ``np_random`` (fresh OS entropy). Seeds must fit in 31 bits after
  ``seed % 2**31``.
* Tracks are the same given the same generator: Gymnasium with an ``np_random`` replaying
  ``std::mt19937(s)`` builds envpool's track for seed ``s`` (the benchmark does this), and on
  it the same actions give the same rewards and car motion over a whole episode.
* The 96x96 frame is downscaled from the 1000x800 canvas bilinearly instead of pygame's
  smoothscale, so edges are a little harder; after the 64x64 INTER_AREA resize the frames differ
  by about 2.4 grey levels (mean absolute) on an identical track.
* envpool draws skid marks (olive on grass, black on road) into the observation; Gymnasium's
  observation ("state_pixels") never shows them. They appear whenever wheels slip (hard gas
  and steering), so V sees a few dozen such pixels in many frames that Gymnasium won't have.
* Actions are clipped into the action space (envpool's range checks are compiled out; the
  controller's outputs are already in range).
* ``info["lap_finished"]`` is set on termination as Gymnasium does (envpool only says "done":
  a -100 step reward means the car left the playfield, anything else means the lap was finished).
* Stepping after the episode ended raises ``gym.error.ResetNeeded`` (envpool would silently
  auto-reset and ignore the action).
* The pool itself does not pickle; the env pickles without it and re-creates it on the next
  ``reset``, so it can be built in, or sent to, spawned worker processes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from dynaworld.envs.frames import CARRACING, HUD_ROWS, process_frame
from dynaworld.errors import DynaworldError, EnvironmentNotFound

DEFAULT_MAX_STEPS = 1000
OFF_PLAYFIELD_REWARD = -100.0
ACTION_LOW = np.array([-1.0, 0.0, 0.0], np.float32)  # steer, gas, brake (as Gymnasium's)
ACTION_HIGH = np.array([1.0, 1.0, 1.0], np.float32)


def _import_envpool() -> Any:
    try:
        import envpool
    except ImportError as e:
        raise EnvironmentNotFound(
            f"the envpool backend of {CARRACING} needs envpool: pip install 'dynaworld[envpool]' ({e})"
        ) from None
    if CARRACING not in envpool.list_all_envs():
        raise EnvironmentNotFound(f"this envpool ({envpool.__version__}) has no {CARRACING}")
    return envpool


class EnvpoolCarRacing(gym.Env[np.ndarray, np.ndarray]):
    """One envpool CarRacing-v3 env with 64x64x3 uint8 frames; see the module docstring."""

    metadata = {"render_modes": [], "render_fps": 50}

    def __init__(
        self,
        size: int = 64,
        max_episode_steps: int | None = None,
        lap_complete_percent: float = 0.95,
    ) -> None:
        _import_envpool()
        self.size = size
        self.max_episode_steps = int(max_episode_steps or DEFAULT_MAX_STEPS)
        self.lap_complete_percent = float(lap_complete_percent)
        self.action_space = gym.spaces.Box(ACTION_LOW, ACTION_HIGH, (3,), np.float32)
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
        self._pool: Any = None
        self._done = True

    # -- pool ------------------------------------------------------------------------------------
    def _make_pool(self, seed: int) -> Any:
        envpool = _import_envpool()
        with warnings.catch_warnings():  # gymnasium's "Box low's precision lowered" on make
            warnings.simplefilter("ignore", UserWarning)
            return envpool.make(
                CARRACING,
                env_type="gymnasium",
                num_envs=1,
                batch_size=1,
                num_threads=1,
                seed=int(seed) % 2**31,
                max_episode_steps=self.max_episode_steps,
                lap_complete_percent=self.lap_complete_percent,
            )

    def _frame(self, obs: np.ndarray) -> np.ndarray:
        return process_frame(obs[0], self.size, HUD_ROWS)

    # -- gym API ---------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None or self._pool is None:
            if seed is None:
                seed = int(self.np_random.integers(2**31))
            self.close()
            self._pool = self._make_pool(seed)
        obs, _ = self._pool.reset()
        self._done = False
        return self._frame(obs), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise gym.error.ResetNeeded("EnvpoolCarRacing: call reset() after the episode ended")
        a = np.clip(np.asarray(action, np.float32).reshape(1, 3), ACTION_LOW, ACTION_HIGH)
        obs, reward, terminated, truncated, _ = self._pool.step(a)
        r, term, trunc = float(reward[0]), bool(terminated[0]), bool(truncated[0])
        info: dict[str, Any] = {}
        if term:
            info["lap_finished"] = r != OFF_PLAYFIELD_REWARD
        self._done = term or trunc
        return self._frame(obs), r, term, trunc, info

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._done = True

    # -- pickling: the C++ pool stays behind, the next reset() makes a new one ----------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None
        state["_done"] = True
        return state


class CarRacingGroups:
    """G groups of R envpool CarRacing-v3 envs stepped in lock-step: a CMA-ES generation's
    episodes, as ``episodes.Episodes`` (``play_episodes`` plays them; slot g·R + j is group g's env j).

    Env j of every group drives track ``seed + j`` (envpool seeds a pool's env j with its seed
    + j), so all candidates of a generation meet the same R tracks, and env j's first episode is
    ``EnvpoolCarRacing().reset(seed=seed + j)``'s: slot g·R + j must be reset with that seed, once.
    Frames are (size, size, 3) uint8. An env whose episode ended keeps being stepped with its group
    (envpool restarts it; its action is zeros, its rewards no longer count); a group all of whose
    episodes ended is no longer stepped.
    """

    def __init__(
        self,
        groups: int,
        per_group: int,
        seed: int,
        size: int = 64,
        max_episode_steps: int | None = None,
        threads: int | None = None,
    ) -> None:
        envpool = _import_envpool()
        self.size, self.shape = size, (groups, per_group)
        self.max_episode_steps = int(max_episode_steps or DEFAULT_MAX_STEPS)
        # one pool per group; each pool's threads step its envs while the others step theirs
        threads = threads or max(1, min(per_group, (os.cpu_count() or 1) // groups))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.pools = [
                envpool.make(
                    CARRACING,
                    env_type="gymnasium",
                    num_envs=per_group,
                    batch_size=per_group,
                    num_threads=threads,
                    seed=int(seed) % 2**31,
                    max_episode_steps=self.max_episode_steps,
                )  # fmt: skip
                for _ in range(groups)
            ]
        self.frames = np.zeros((*self.shape, size, size, 3), np.uint8)
        self.seed, self.started = int(seed), np.zeros(self.shape, bool)
        self.done, self.terminated = np.ones(self.shape, bool), np.zeros(self.shape, bool)

    def _store(self, g: int, obs: np.ndarray, env_id: np.ndarray) -> None:
        for i, j in enumerate(env_id):
            self.frames[g, j] = process_frame(obs[i], self.size, HUD_ROWS)

    def __len__(self) -> int:
        return self.shape[0] * self.shape[1]

    def reset(self, slot: int, seed: int) -> np.ndarray:
        """Slot ``slot``'s episode (the first call resets every pool: call it for slots 0, 1, ...)."""
        g, j = divmod(slot, self.shape[1])
        if seed != self.seed + j:
            raise DynaworldError(
                f"CarRacingGroups slot {slot} plays track {self.seed + j}, not {seed}"
            )
        used = bool(self.started.any())
        if slot == 0 and not used:
            for h, pool in enumerate(self.pools):
                obs, info = pool.reset()
                self._store(h, obs, info["env_id"])
        elif not used or self.started[g, j]:
            raise DynaworldError(
                "a CarRacingGroups plays each slot's episode once, slots reset in order from 0"
            )
        self.done[g, j], self.started[g, j] = False, True
        return self.frames[g, j].copy()

    def step(
        self, slots: Sequence[int], actions: Sequence[Any]
    ) -> list[tuple[np.ndarray, float, bool, bool]]:
        """One step of every group with a running episode; (s', r, terminated, truncated) for
        ``slots`` (running episodes)."""
        a = np.zeros((*self.shape, 3), np.float32)
        rows = np.divmod(np.asarray(slots), self.shape[1])
        a[rows] = np.clip(np.asarray(actions, np.float32), ACTION_LOW, ACTION_HIGH)
        rewards = np.zeros(self.shape, np.float32)
        live = np.flatnonzero(~self.done.all(1))
        for g in live:
            self.pools[g].send(a[g], np.arange(self.shape[1], dtype=np.int32))
        for g in live:
            obs, r, term, trunc, info = self.pools[g].recv()
            j = info["env_id"]
            rewards[g, j] = np.where(self.done[g, j], 0.0, r)
            self.terminated[g, j] |= term & ~self.done[g, j]
            self.done[g, j] |= term | trunc
            self._store(int(g), obs, j)
        return [
            (self.frames[g, j].copy(), float(rewards[g, j]), bool(self.terminated[g, j]),
             bool(self.done[g, j] and not self.terminated[g, j]))
            for g, j in zip(*rows, strict=True)
        ]  # fmt: skip

    def close(self) -> None:
        for pool in self.pools:
            pool.close()
        self.pools = []


def make_envpool_carracing(size: int = 64, max_episode_steps: int | None = None) -> gym.Env:
    """``make_wm_env("CarRacing-v3")`` on envpool's C++ simulator, with episode statistics."""
    return gym.wrappers.RecordEpisodeStatistics(EnvpoolCarRacing(size, max_episode_steps))
