"""The database patterns' panel on the developer dashboard: every pattern's migrations.

A running database module is connected, so its migrator reads each pattern's current
revision over the app's own pool, as ``rainmaker db status`` shows it.
"""

from __future__ import annotations

from collections.abc import Callable

from rainmaker import DashboardPanel, PanelTable
from rainmaker.patterns.database.migrator import Migrator

COLUMNS = ("pattern", "instances", "current", "head", "state")


def migrations_panel(instance: str, migrator: Callable[[], Migrator]) -> DashboardPanel:
    """The panel of one database instance; ``migrator()`` raises while it is not connected."""

    async def read(limit: int) -> PanelTable:
        statuses = await migrator().status()
        rows = [
            (
                item.branch.pattern_id,
                ", ".join(item.branch.instances),
                ", ".join(item.current) or "base",
                ", ".join(item.heads) or "base",
                "up to date" if item.up_to_date else "behind: run rainmaker db upgrade",
            )
            for item in statuses[:limit]
        ]
        return PanelTable(COLUMNS, rows, note="" if rows else "no pattern stores tables here")

    return DashboardPanel(f"Migrations: {instance}", read)
