"""Revisions of the test audit trail."""

from tests.patterns.database.dbtest_patterns.audit import metadata as target_metadata

__all__ = ["target_metadata"]
