"""Migrations of the database pattern itself: the ``rainmaker_outbox`` table.

Every file here but this one is an Alembic revision; ``target_metadata`` is what
``rainmaker db revision --autogenerate`` compares the database against.
"""

from rainmaker.patterns.database.tables import metadata as target_metadata

__all__ = ["target_metadata"]
