"""dynaworld: model-based reinforcement learning around one loop (Algorithm 1 of the lecture)."""

__version__ = "0.2.0.dev0"
