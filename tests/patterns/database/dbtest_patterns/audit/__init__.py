"""``audit``: an append-only trail in ``audit_events``; requires ``Ledger`` (so it starts,
and migrates, after it)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities.database import Database, SqlDatabase
from tests.patterns.database.dbtest_patterns.ledger import Ledger

metadata = MetaData()
events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(50), nullable=False),
    Column("account_id", Integer, nullable=False),  # an id, never a foreign key
)


class AuditService:
    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def record(self, action: str, account_id: int) -> None:
        async with self.db.session() as session:
            await session.execute(insert(events).values(action=action, account_id=account_id))

    async def count(self) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(events)) or 0)


class AuditSettings(Settings):
    """No settings."""


class AuditModule(Module[AuditSettings]):
    service: AuditService

    async def start(self) -> None:
        self.service = AuditService(self.ctx.services.require(Database))


pattern: Pattern[AuditSettings] = Pattern(
    id="audit",
    version="1.0.0",
    name="Test audit trail",
    settings=AuditSettings,
    factory=AuditModule,
    requires=[Database, Ledger],
    migrations="tests.patterns.database.dbtest_patterns.audit.migrations",
)
