"""Models m: anything with ``update(transition)`` (UPDATEMODEL) and batched ``step(query)``."""

from dynaworld.models.replay_model import ReplayModel, ReplayWriter

__all__ = ["ReplayModel", "ReplayWriter"]
