"""Migrations status of the running app's databases, as ``rainmaker db status`` shows it.

A running database module is already connected, so its :meth:`migrator` reads each
pattern's current revision over the app's own pool. Found by duck typing (a module with
``migrator()`` and a connected ``database``) so that the dashboard never imports
SQLAlchemy for an app without a database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rainmaker import AppView


@dataclass(frozen=True)
class MigrationRow:
    """One pattern's branch on one database; ``problem`` is set when it could not be read."""

    database: str
    pattern: str
    instances: str
    current: str
    head: str
    up_to_date: bool
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "pattern": self.pattern,
            "instances": self.instances,
            "current": self.current,
            "head": self.head,
            "up_to_date": self.up_to_date,
            "problem": self.problem,
        }


async def migration_rows(application: AppView, timeout: float) -> list[MigrationRow]:
    """Every branch of every connected database of ``application``."""
    rows: list[MigrationRow] = []
    for instance in application.instances.values():
        module: Any = instance.module
        if getattr(module, "database", None) is None or not hasattr(module, "migrator"):
            continue
        try:
            statuses = await asyncio.wait_for(module.migrator().status(), timeout)
        except Exception as exc:
            reason = (
                "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            )
            rows.append(MigrationRow(instance.name, "?", "", "", "", False, reason))
            continue
        for item in statuses:
            rows.append(
                MigrationRow(
                    database=instance.name,
                    pattern=item.branch.pattern_id,
                    instances=", ".join(item.branch.instances),
                    current=", ".join(item.current) or "base",
                    head=", ".join(item.heads) or "base",
                    up_to_date=item.up_to_date,
                )
            )
    return rows
