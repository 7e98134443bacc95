"""Migrations of ``organizations``: the ``orgs_organizations``, ``orgs_members`` and
``orgs_invitations`` tables.

Every file here but this one is an Alembic revision; ``target_metadata`` is what
``rainmaker db revision --autogenerate`` compares the database against.
"""

from rainmaker.patterns.organizations.tables import metadata as target_metadata

__all__ = ["target_metadata"]
