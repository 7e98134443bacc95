"""``ledger``: accounts with balances in ``ledger_accounts``; provides ``Ledger``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update

from rainmaker import Capability, Module, Pattern, Settings
from rainmaker.capabilities.database import Database, SqlDatabase

metadata = MetaData()
accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("balance", Integer, nullable=False),
    Column("currency", String(3), nullable=False, server_default="EUR"),
)


class LedgerService:
    """Opens accounts and moves money; every call joins the task's transaction."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def open(self, account_id: int, name: str, balance: int = 0) -> None:
        async with self.db.session() as session:
            await session.execute(
                insert(accounts).values(id=account_id, name=name, balance=balance)
            )

    async def move(self, account_id: int, delta: int) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(balance=accounts.c.balance + delta)
            )

    async def balance(self, account_id: int) -> int | None:
        async with self.db.session() as session:
            value = await session.scalar(
                select(accounts.c.balance).where(accounts.c.id == account_id)
            )
            return None if value is None else int(value)

    async def total(self) -> int:
        async with self.db.session() as session:
            value = await session.scalar(select(func.coalesce(func.sum(accounts.c.balance), 0)))
            return int(value or 0)


Ledger: Capability[LedgerService] = Capability("Ledger", LedgerService)


class LedgerSettings(Settings):
    """No settings."""


class LedgerModule(Module[LedgerSettings]):
    async def start(self) -> None:
        self.ctx.services.register(Ledger, LedgerService(self.ctx.services.require(Database)))

    def router(self) -> Any:
        from fastapi import APIRouter

        router = APIRouter()

        @router.get("/total")
        async def total() -> dict[str, int]:
            return {"total": await self.ctx.services.require(Ledger).total()}

        return router


pattern: Pattern[LedgerSettings] = Pattern(
    id="ledger",
    version="1.0.0",
    name="Test ledger",
    settings=LedgerSettings,
    factory=LedgerModule,
    provides=[Ledger],
    requires=[Database],
    mount="/ledger",
    migrations="tests.patterns.database.dbtest_patterns.ledger.migrations",
    table_prefix="ledger_",
)
