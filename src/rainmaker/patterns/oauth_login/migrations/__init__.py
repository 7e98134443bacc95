"""Migrations of ``oauth-login``: the ``oauth_identities`` and ``oauth_grants`` tables.

Every file here but this one is an Alembic revision; ``target_metadata`` is what
``rainmaker db revision --autogenerate`` compares the database against.
"""

from rainmaker.patterns.oauth_login.tables import metadata as target_metadata

__all__ = ["target_metadata"]
