"""Models m: anything with ``update(transition)`` (UPDATEMODEL) and batched ``step(query)``."""

from dynaworld.models.replay import ReplayModel

__all__ = ["ReplayModel"]
