"""Revisions of the test ledger."""

from tests.patterns.database.dbtest_patterns.ledger import metadata as target_metadata

__all__ = ["target_metadata"]
