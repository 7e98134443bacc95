"""Alembic revisions of the ``projects`` pattern (one branch of its own)."""

from projects.tables import metadata as target_metadata

__all__ = ["target_metadata"]
