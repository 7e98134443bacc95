"""A pattern's migration revisions as the docs show them (no database needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rainmaker.kernel.migration_history import migration_history
from rainmaker.kernel.pattern import Pattern


@dataclass(frozen=True)
class RevisionDoc:
    """One revision of a pattern's branch: id, parent and what it does."""

    revision: str
    down_revision: str
    message: str


def revisions_of(pattern: Pattern[Any]) -> tuple[list[RevisionDoc], str]:
    """The revisions of ``pattern``'s branch from base to head, and a problem (or "")."""
    history, problem = migration_history(pattern)
    return [
        RevisionDoc(
            revision=item.revision,
            down_revision=(item.down_revision or "base").replace(",", ", "),
            message=item.message,
        )
        for item in history
    ], problem
