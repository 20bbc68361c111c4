"""Models m: anything with ``update(transition)`` (UPDATEMODEL) and batched ``step(query)``."""

from dynaworld.models.replay import ReplayModel, ReplayWriter

__all__ = ["ReplayModel", "ReplayWriter"]
