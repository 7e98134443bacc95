"""The database patterns' door into ``rainmaker db``: a :class:`MigrationRunner` by name.

``rainmaker db`` knows no database pattern: it asks every module for
``migration_runner()`` and drives what it gets through the public protocol. This adapter
turns the names the command passes (a pattern id or an instance) into this pattern's
Alembic branches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rainmaker import MigrationState
from rainmaker.patterns.database.migrator import Migrator


class AlembicMigrationRunner:
    """Every pattern's Alembic branch on one database, addressed by pattern or instance."""

    def __init__(self, migrator: Migrator) -> None:
        self.migrator = migrator

    @property
    def database(self) -> str:
        return self.migrator.database.instance

    def pattern_ids(self) -> Sequence[str]:
        return [branch.pattern_id for branch in self.migrator.branches]

    def handles(self, name: str) -> bool:
        return any(branch.matches(name) for branch in self.migrator.branches)

    async def status(self) -> Sequence[MigrationState]:
        return [
            MigrationState(
                database=self.database,
                pattern_id=item.branch.pattern_id,
                instances=item.branch.instances,
                current=item.current,
                heads=item.heads,
            )
            for item in await self.migrator.status()
        ]

    async def upgrade(self, name: str | None = None) -> Sequence[str]:
        branch = self.migrator.find(name) if name is not None else None
        return await self.migrator.upgrade(branch)

    async def downgrade(self, name: str, target: str) -> str:
        return await self.migrator.downgrade(self.migrator.find(name), target)

    async def revision(self, name: str, message: str, *, autogenerate: bool = False) -> Path:
        branch = self.migrator.find(name)
        return await self.migrator.revision(branch, message, autogenerate=autogenerate)
