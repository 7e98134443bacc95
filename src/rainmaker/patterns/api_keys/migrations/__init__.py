"""Migrations of ``api-keys``: the ``api_keys_keys`` table.

Every file here but this one is an Alembic revision; ``target_metadata`` is what
``rainmaker db revision --autogenerate`` compares the database against.
"""

from rainmaker.patterns.api_keys.tables import metadata as target_metadata

__all__ = ["target_metadata"]
