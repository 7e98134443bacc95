"""Migrations of the payment patterns: the ``payments_*`` tables.

Every file here but this one is an Alembic revision; ``target_metadata`` is what
``rainmaker db revision --autogenerate`` compares the database against.
"""

from rainmaker.patterns.payments.tables import metadata as target_metadata

__all__ = ["target_metadata"]
