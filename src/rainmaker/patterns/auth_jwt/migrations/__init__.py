"""Migrations of ``auth-jwt``: the ``auth_users``, ``auth_refresh_families``,
``auth_refresh_tokens`` and ``auth_one_time_tokens`` tables.

Every file here but this one is an Alembic revision; ``target_metadata`` is what
``rainmaker db revision --autogenerate`` compares the database against.
"""

from rainmaker.patterns.auth_jwt.tables import metadata as target_metadata

__all__ = ["target_metadata"]
