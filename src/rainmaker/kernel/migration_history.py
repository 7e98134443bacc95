"""A pattern's migration history, read from its ``migrations`` package without a database.

``rainmaker docs``, ``pattern validate`` and the release manifest list a pattern's
revisions; none of them should need a database pattern for that. The revision files are
Alembic's, so Alembic reads them (imported here only, and only for patterns that declare
migrations).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from rainmaker.kernel.pattern import Pattern


@dataclass(frozen=True)
class MigrationRevision:
    """One revision of a pattern's branch; ``down_revision`` ``None`` is the base."""

    revision: str
    down_revision: str | None
    message: str


def migration_history(pattern: Pattern[Any]) -> tuple[list[MigrationRevision], str]:
    """The revisions of ``pattern``'s branch from base to head, and a problem (or "").

    A pattern without migrations has an empty history and no problem.
    """
    if pattern.migrations is None:
        return [], ""
    try:
        from alembic.script import ScriptDirectory
    except ImportError as exc:
        return [], f'Alembic is not installed ({exc}): pip install "rainmaker-patterns[database]"'
    try:
        spec = importlib.util.find_spec(pattern.migrations)
    except ImportError as exc:
        return [], f"the migrations package {pattern.migrations!r} cannot be imported: {exc}"
    if spec is None or not spec.submodule_search_locations:
        return [], f"the migrations package {pattern.migrations!r} cannot be imported"
    folder = next(iter(spec.submodule_search_locations))
    try:
        revisions = list(ScriptDirectory(folder, version_locations=[folder]).walk_revisions())
    except Exception as exc:  # an author's broken revision file: validate reports it
        return [], f"the migrations package cannot be read: {exc}"
    revisions.reverse()  # walk_revisions goes from the head down
    return [
        MigrationRevision(str(item.revision), _down(item.down_revision), (item.doc or "").strip())
        for item in revisions
    ], ""


def _down(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple | list):
        return ",".join(sorted(str(v) for v in value))  # a merge revision has several
    return str(value)
