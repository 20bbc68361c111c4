"""An environment's state in a checkpoint: plain data captured from the env and its wrappers.

A resumed run rebuilds E from its config and writes the saved state back into it (``plain``), so
a checkpoint holds numbers, arrays and RNG states, never a pickled env. An env class may define
``clone_state() -> plain data`` / ``restore_state(state)`` to say itself what its state is (the
Atari env does). What cannot be encoded (a socket, a C handle without that protocol) is named by
``env_state`` and left to the rebuilt env: such a run still resumes, not bit-identically.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec

from dynaworld import plain
from dynaworld.errors import CheckpointError

_CONFIG = (gym.spaces.Space, EnvSpec)


def env_state(env: gym.Env) -> tuple[dict[str, Any], list[str]]:
    """(state, paths of attributes that could not be captured)."""
    return plain.capture(env, config_types=_CONFIG, skip=("_saved_kwargs",))


def load_env_state(env: gym.Env, state: dict[str, Any]) -> None:
    try:
        plain.restore(env, state)
    except CheckpointError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(
            f"the checkpoint's environment state does not fit {env}: {type(e).__name__}: {e}"
        ) from None
