"""dynaworld: model-based reinforcement learning around one loop (Algorithm 1 of the lecture).

The Python API: ``dynaworld.train(config, run_dir, **overrides)`` and ``dynaworld.load(run_dir)``
(``dynaworld.api``); the command line: ``dynaworld --help``.
"""

from dynaworld.version import __version__

__all__ = ["__version__", "load", "train"]


def __getattr__(name: str):  # noqa: ANN202 - the API is imported on first use (fast CLI start)
    if name in ("load", "train"):
        from dynaworld import api

        return getattr(api, name)
    raise AttributeError(f"module 'dynaworld' has no attribute {name!r}")
