"""Migrations of ``auth-jwt``: the ``auth_users``, ``auth_refresh_families``,
``auth_refresh_tokens``, ``auth_one_time_tokens``, ``auth_two_factor`` and
``auth_recovery_codes`` tables.

Every file here but this one is an Alembic revision; ``target_metadata`` is what
``rainmaker db revision --autogenerate`` compares the database against.
"""

from rainmaker.patterns.auth_jwt.tables import metadata as target_metadata

__all__ = ["target_metadata"]
