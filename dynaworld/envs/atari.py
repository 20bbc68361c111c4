"""Atari through ale-py with the standard DQN preprocessing, in one picklable environment.

84x84 grayscale, frame skip 4 with a max-pool over the last two frames, a 4-frame stack, up to 30
no-op frames at reset, sticky actions as configured, optional reward clipping and life-loss
terminals (for learning only: the game goes on), and an episode cap in agent steps. The whole
state (emulator, RNGs, stack, counters) is plain data (``clone_state``), so checkpoints resume
mid-episode exactly and the perfect model can step copies of it.
"""

from __future__ import annotations

from typing import Any

import ale_py
import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dynaworld.errors import EnvironmentNotFound

NOOP = 0


def rom_name(env_id: str) -> str:
    """'ALE/MsPacman-v5' → 'ms_pacman' (ale-py's ROM id)."""
    name = env_id.split("/", 1)[-1].rsplit("-v", 1)[0]
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out


class AtariEnv(gym.Env[np.ndarray, int]):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        game: str,
        *,
        frame_skip: int = 4,
        frame_stack: int = 4,
        screen_size: int = 84,
        noop_max: int = 30,
        sticky_actions: float = 0.25,
        full_action_space: bool = False,
        max_episode_steps: int | None = 27_000,
        clip_rewards: bool = False,
        terminal_on_life_loss: bool = False,
    ) -> None:
        rom = ale_py.roms.get_rom_path(game)
        if rom is None:
            raise EnvironmentNotFound(
                f"no Atari ROM for game '{game}' in ale-py {ale_py.__version__}; "
                f"available: {', '.join(sorted(ale_py.roms.get_all_rom_ids())[:8])}, ..."
            )
        self.game, self._rom = game, rom
        self.settings: dict[str, Any] = dict(
            frame_skip=frame_skip,
            frame_stack=frame_stack,
            screen_size=screen_size,
            noop_max=noop_max,
            sticky_actions=sticky_actions,
            full_action_space=full_action_space,
            max_episode_steps=max_episode_steps,
            clip_rewards=clip_rewards,
            terminal_on_life_loss=terminal_on_life_loss,
        )
        self.frame_skip, self.noop_max, self.sticky = frame_skip, noop_max, float(sticky_actions)
        self.max_episode_steps = max_episode_steps
        self.clip_rewards, self.terminal_on_life_loss = clip_rewards, terminal_on_life_loss
        self._load(seed=None)
        h, w = self.ale.getScreenDims()
        self._pool = np.zeros((2, h, w), np.uint8)
        self._stack = np.zeros((frame_stack, screen_size, screen_size), np.uint8)
        self.action_space = spaces.Discrete(len(self._actions))  # type: ignore[assignment]
        self.observation_space = spaces.Box(0, 255, self._stack.shape, np.uint8)
        self._lives = 0
        self._steps = 0
        self._return = 0.0
        self._last_action = self._actions[NOOP]

    # -------------------------------------------------------------- emulator
    def _load(self, seed: int | None) -> None:
        ss = np.random.SeedSequence(seed)
        np_seed, ale_seed = ss.generate_state(2)
        self.np_random = np.random.Generator(np.random.PCG64(int(np_seed)))
        self.ale = ale_py.ALEInterface()
        self.ale.setLoggerMode(ale_py.LoggerMode.Error)
        self.ale.setInt("random_seed", int(np.int32(ale_seed)))
        # Sticky actions are ours, not ALE's: ALE's state does not hold the action it would repeat,
        # so a restored state could not replay exactly. Same semantics: each frame repeats the
        # previous frame's action with probability p.
        self.ale.setFloat("repeat_action_probability", 0.0)
        self.ale.setInt("frame_skip", 1)
        self.ale.loadROM(self._rom)
        full = bool(self.settings["full_action_space"])
        self._actions = list(
            self.ale.getLegalActionSet() if full else self.ale.getMinimalActionSet()
        )

    def _grab(self, i: int) -> None:
        self.ale.getScreenGrayscale(self._pool[i])

    def _frame(self) -> np.ndarray:
        frame = np.maximum(self._pool[0], self._pool[1])
        size = self._stack.shape[-1]
        return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)

    def _push(self, frame: np.ndarray) -> None:
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = frame

    # -------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._load(seed)
        self.ale.reset_game()
        self._last_action = self._actions[NOOP]
        noops = int(self.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            self.ale.act(self._actions[NOOP])
            if self.ale.game_over():
                self.ale.reset_game()
        self._grab(0)
        self._pool[1].fill(0)
        self._stack[:] = self._frame()
        self._lives = self.ale.lives()
        self._steps = 0
        self._return = 0.0
        return self._stack.copy(), {"lives": self._lives}

    def step(self, action: int):
        reward = 0.0
        a = self._actions[int(action)]
        terminated = False
        sticky = self.np_random.random(self.frame_skip) < self.sticky if self.sticky > 0 else None
        for t in range(self.frame_skip):
            if sticky is not None and not sticky[t]:
                self._last_action = a
            reward += self.ale.act(a if sticky is None else self._last_action)
            if self.ale.game_over():
                terminated = True
                self._grab(0)  # the last frame alone: nothing to pool with
                self._pool[1] = self._pool[0]
                break
            if t == self.frame_skip - 2:
                self._grab(1)
            elif t == self.frame_skip - 1:
                self._grab(0)
        self._push(self._frame())
        self._steps += 1
        self._return += reward
        lives = self.ale.lives()
        life_loss = lives < self._lives and not terminated
        self._lives = lives
        truncated = self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        info: dict[str, Any] = {"lives": lives, "life_loss": life_loss}
        if self.terminal_on_life_loss and life_loss:
            info["terminal_for_learning"] = True
        if terminated or truncated:
            info["episode"] = {"r": self._return, "l": self._steps}
        out_reward = float(np.sign(reward)) if self.clip_rewards else reward
        return self._stack.copy(), out_reward, terminated, bool(truncated and not terminated), info

    def render(self) -> np.ndarray:
        return self.ale.getScreenRGB()

    def get_action_meanings(self) -> list[str]:
        return [a.name for a in self._actions]

    # -------------------------------------------------------------- snapshots
    def clone_state(self) -> dict[str, Any]:
        """Everything needed to continue this episode exactly (emulator incl. its RNG)."""
        return {
            "ale": self.ale.cloneState(include_rng=True),
            "last_action": self._last_action.value,
            "np_random": self.np_random.bit_generator.state,
            "stack": self._stack.copy(),
            "pool": self._pool.copy(),
            "lives": self._lives,
            "steps": self._steps,
            "return": self._return,
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        self.ale.restoreState(state["ale"])
        self._last_action = ale_py.Action(int(state["last_action"]))
        self.np_random.bit_generator.state = state["np_random"]
        self._stack[:] = state["stack"]
        self._pool[:] = state["pool"]
        self._lives, self._steps, self._return = state["lives"], state["steps"], state["return"]

    def __getstate__(self) -> dict[str, Any]:
        return {"game": self.game, "settings": self.settings, "snapshot": self.clone_state()}

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__init__(d["game"], **d["settings"])  # type: ignore[misc]
        self.restore_state(d["snapshot"])
