"""A pattern's migration revisions, read from its Alembic package (no database needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rainmaker.kernel.pattern import Pattern


@dataclass(frozen=True)
class RevisionDoc:
    """One revision of a pattern's branch: id, parent and what it does."""

    revision: str
    down_revision: str
    message: str


def revisions_of(pattern: Pattern[Any]) -> tuple[list[RevisionDoc], str]:
    """The revisions of ``pattern``'s branch from base to head, and a problem (or "").

    Alembic (the ``database`` extra) is imported only here, and only for patterns that
    declare migrations.
    """
    if pattern.migrations is None:
        return [], ""
    try:
        from rainmaker.patterns.database.migrator import branch_of

        script = branch_of(pattern, [pattern.id]).script()
        revisions = list(script.walk_revisions())
    except ImportError as exc:
        return [], f"install the database extra to list them ({exc})"
    except Exception as exc:
        return [], f"the migrations package cannot be read: {exc}"
    revisions.reverse()  # walk_revisions goes from the head down
    return [
        RevisionDoc(
            revision=str(item.revision),
            down_revision=_down(item.down_revision),
            message=(item.doc or "").strip(),
        )
        for item in revisions
    ], ""


def _down(value: Any) -> str:
    if value is None:
        return "base"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)
