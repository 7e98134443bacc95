"""The ``Database`` contract suite, for every provider of the ``Database`` capability.

Use it from a test module::

    from rainmaker.testing.contracts.database import DatabaseContract, DatabaseUnderTest

    class TestMyDatabase(DatabaseContract):
        @pytest.fixture
        def database_under_test(self, tmp_path):
            return DatabaseUnderTest(
                use="database-sqlite",
                settings={"path": "contract.db"},
                one_connection={"pool_size": 1},
                root=tmp_path,
            )

The suite composes an app with the provider as instance ``db``, creates two tables that
stand for two patterns' data (``contract_accounts`` and ``contract_journal``, each written
through ``db.session()`` by its own repository, as patterns do) and checks: commit and
rollback together, savepoints, ``on_commit``, concurrency, ``lock()`` making count-then-
insert atomic, pool exhaustion, the outbox,
task binding, health and error mapping. The provider's own migrations must have run at
start (set ``auto_migrate`` in ``settings`` when it is off by default).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import PatternError, UnavailableError
from rainmaker.kernel.health import Status
from rainmaker.testing.harness import build_app

WAIT = 10.0  # upper bound for things that happen in the background; never a performance claim

metadata = MetaData()
accounts_table = Table(
    "contract_accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner", String(100), nullable=False),
    Column("balance", Integer, nullable=False),
)
journal_table = Table(
    "contract_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, nullable=False),
    Column("amount", Integer, nullable=False),
    Column("note", String(200), nullable=False),
)


@dataclass(frozen=True)
class DatabaseUnderTest:
    """How to compose the provider: its pattern id, settings, and the overrides that leave
    exactly one pooled connection (for the pool-exhaustion test)."""

    use: str
    settings: Mapping[str, Any]
    root: Path
    one_connection: Mapping[str, Any] = field(default_factory=lambda: {"pool_size": 1})


class Accounts:
    """Stands for one pattern's data access: it only ever uses ``db.session()``."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def open(self, account_id: int, balance: int, owner: str = "someone") -> None:
        async with self.db.session() as session:
            await session.execute(
                insert(accounts_table).values(id=account_id, owner=owner, balance=balance)
            )

    async def move(self, account_id: int, delta: int) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(accounts_table)
                .where(accounts_table.c.id == account_id)
                .values(balance=accounts_table.c.balance + delta)
            )

    async def balance(self, account_id: int) -> int | None:
        async with self.db.session() as session:
            value = await session.scalar(
                select(accounts_table.c.balance).where(accounts_table.c.id == account_id)
            )
            return None if value is None else int(value)

    async def total(self) -> int:
        async with self.db.session() as session:
            return int(
                await session.scalar(select(func.coalesce(func.sum(accounts_table.c.balance), 0)))
                or 0
            )


class Journal:
    """Stands for a second pattern that records what the first one did."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def write(self, account_id: int, amount: int, note: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                insert(journal_table).values(account_id=account_id, amount=amount, note=note)
            )

    async def count(self) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(journal_table)) or 0)

    async def sum_for(self, account_id: int) -> int:
        async with self.db.session() as session:
            value = await session.scalar(
                select(func.coalesce(func.sum(journal_table.c.amount), 0)).where(
                    journal_table.c.account_id == account_id
                )
            )
            return int(value or 0)


async def transfer(accounts: Accounts, journal: Journal, src: int, dst: int, amount: int) -> None:
    """Two patterns' writes; rows are always locked in id order, so no deadlock."""
    for account_id, delta in sorted(((src, -amount), (dst, amount))):
        await accounts.move(account_id, delta)
        await journal.write(account_id, delta, f"transfer {src}->{dst}")


class Boom(Exception):
    """Raised by tests to roll a transaction back."""


class DatabaseContract:
    """Every ``Database`` provider passes these tests (subclass and define
    ``database_under_test``)."""

    @pytest.fixture
    def database_under_test(self) -> DatabaseUnderTest:
        raise NotImplementedError("define the database_under_test fixture in your subclass")

    @asynccontextmanager
    async def running(
        self, under_test: DatabaseUnderTest, **overrides: Any
    ) -> AsyncIterator[Application]:
        """A started app with the provider as ``db`` and the contract tables created empty."""
        app = build_app(
            {"db": {"use": under_test.use, **under_test.settings, **overrides}},
            root=under_test.root,
            name="contract",
        )
        async with app.running():
            db = app.services.require(Database)
            async with db.engine.begin() as connection:
                await connection.run_sync(metadata.drop_all)
                await connection.run_sync(metadata.create_all)
            try:
                yield app
            finally:
                async with db.engine.begin() as connection:
                    await connection.run_sync(metadata.drop_all)

    @pytest.fixture
    async def app(self, database_under_test: DatabaseUnderTest) -> AsyncIterator[Application]:
        async with self.running(database_under_test) as app:
            yield app

    @pytest.fixture
    def db(self, app: Application) -> SqlDatabase:
        return app.services.require(Database)

    # -- column types ----------------------------------------------------------------------

    async def test_utc_datetime_reads_back_aware_utc(self, db: SqlDatabase) -> None:
        """``UtcDateTime`` columns answer aware UTC on every database, SQLite included."""
        from datetime import UTC, datetime, timedelta, timezone

        from sqlalchemy import Column, Integer, MetaData, Table, insert, select

        from rainmaker.capabilities.utc_datetime import UtcDateTime

        stamps = Table(
            "contract_stamps",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("at", UtcDateTime(), nullable=True),
        )
        paris = timezone(timedelta(hours=2))
        written = {
            1: datetime(2026, 12, 1, 14, 0, 0, 123000, tzinfo=paris),  # aware, not UTC
            2: datetime(2026, 12, 1, 12, 0, 0),  # naive: taken as UTC
            3: None,
        }
        async with db.engine.begin() as connection:
            await connection.run_sync(stamps.metadata.create_all)
        try:
            async with db.session() as session:
                await session.execute(
                    insert(stamps), [{"id": key, "at": at} for key, at in written.items()]
                )
            async with db.session() as session:
                read = dict((await session.execute(select(stamps.c.id, stamps.c.at))).all())
            expected = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
            assert read[1] == expected + timedelta(microseconds=123000)
            assert read[2] == expected
            assert read[3] is None
            for key in (1, 2):
                assert read[key].utcoffset() == timedelta(0), read[key]
                assert read[key].isoformat().endswith("+00:00")
        finally:
            async with db.engine.begin() as connection:
                await connection.run_sync(stamps.metadata.drop_all)

    # -- transactions across patterns ----------------------------------------------------

    async def test_two_patterns_commit_together(self, db: SqlDatabase) -> None:
        accounts, journal = Accounts(db), Journal(db)
        async with db.transaction():
            await accounts.open(1, 100)
            await journal.write(1, 100, "opened")
            assert db.in_transaction
        assert not db.in_transaction
        assert await accounts.balance(1) == 100
        assert await journal.count() == 1

    async def test_two_patterns_roll_back_together(self, db: SqlDatabase) -> None:
        accounts, journal = Accounts(db), Journal(db)
        with pytest.raises(Boom):
            async with db.transaction():
                await accounts.open(1, 100)
                await journal.write(1, 100, "opened")
                raise Boom
        assert await accounts.balance(1) is None
        assert await journal.count() == 0

    async def test_session_outside_a_transaction_commits_its_own_block(
        self, db: SqlDatabase
    ) -> None:
        accounts = Accounts(db)
        await accounts.open(1, 5)
        assert await accounts.balance(1) == 5
        with pytest.raises(Boom):
            async with db.session() as session:
                await session.execute(insert(accounts_table).values(id=2, owner="x", balance=1))
                raise Boom
        assert await accounts.balance(2) is None

    async def test_sessions_in_a_transaction_share_one_session(self, db: SqlDatabase) -> None:
        async with db.transaction() as outer:
            async with db.session() as first, db.session() as second:
                assert first is outer and second is outer

    async def test_savepoint_rolls_back_alone(self, db: SqlDatabase) -> None:
        accounts, journal = Accounts(db), Journal(db)
        async with db.transaction():
            await accounts.open(1, 100)
            with pytest.raises(Boom):
                async with db.transaction():
                    await accounts.move(1, -60)
                    await journal.write(1, -60, "inner")
                    raise Boom
            async with db.transaction():
                await journal.write(1, 100, "kept")
        assert await accounts.balance(1) == 100
        assert await journal.count() == 1

    async def test_released_savepoint_still_rolls_back_with_outer(self, db: SqlDatabase) -> None:
        accounts = Accounts(db)
        with pytest.raises(Boom):
            async with db.transaction():
                async with db.transaction():
                    await accounts.open(1, 100)
                raise Boom
        assert await accounts.balance(1) is None

    # -- on_commit ---------------------------------------------------------------------

    async def test_on_commit_runs_only_after_commit(self, db: SqlDatabase) -> None:
        accounts = Accounts(db)
        seen: list[int | None] = []

        async def after() -> None:  # reads through a new unit: sees committed data
            seen.append(await accounts.balance(1))

        async with db.transaction():
            await accounts.open(1, 7)
            db.on_commit(after)
            db.on_commit(lambda: seen.append(-1))
            assert seen == []
        assert seen == [7, -1]

    async def test_on_commit_dropped_on_rollback(self, db: SqlDatabase) -> None:
        calls: list[str] = []
        with pytest.raises(Boom):
            async with db.transaction():
                db.on_commit(lambda: calls.append("outer"))
                raise Boom
        async with db.transaction():
            db.on_commit(lambda: calls.append("kept"))
            with pytest.raises(Boom):
                async with db.transaction():
                    db.on_commit(lambda: calls.append("savepoint"))
                    raise Boom
            async with db.transaction():
                db.on_commit(lambda: calls.append("released"))
        assert calls == ["kept", "released"]

    async def test_failing_on_commit_callback_does_not_undo_the_commit(
        self, db: SqlDatabase
    ) -> None:
        accounts = Accounts(db)
        calls: list[str] = []

        def broken() -> None:
            raise RuntimeError("callback bug")

        async with db.transaction():
            await accounts.open(1, 3)
            db.on_commit(broken)
            db.on_commit(lambda: calls.append("next"))
        assert await accounts.balance(1) == 3
        assert calls == ["next"]

    async def test_on_commit_outside_a_transaction_is_an_error(self, db: SqlDatabase) -> None:
        with pytest.raises(PatternError, match="outside a transaction"):
            db.on_commit(lambda: None)

    # -- concurrency -------------------------------------------------------------------

    async def test_concurrent_transactions_keep_the_invariant(self, db: SqlDatabase) -> None:
        accounts, journal = Accounts(db), Journal(db)
        async with db.transaction():
            for account_id in range(1, 11):
                await accounts.open(account_id, 100)
        rng = random.Random(42)
        plans = [
            (rng.randint(1, 10), rng.randint(1, 10), rng.randint(1, 30), n % 5 == 0)
            for n in range(50)
        ]

        async def one(src: int, dst: int, amount: int, fail: bool) -> bool:
            try:
                async with db.transaction():
                    await transfer(accounts, journal, src, dst, amount)
                    if fail:
                        raise Boom
            except Boom:
                return False
            return True

        results = await asyncio.gather(*(one(*plan) for plan in plans))
        assert await accounts.total() == 1000
        assert await journal.count() == 2 * sum(results)
        for account_id in range(1, 11):
            assert await accounts.balance(account_id) == 100 + await journal.sum_for(account_id)

    async def test_lock_makes_check_then_insert_atomic(self, db: SqlDatabase) -> None:
        """50 transactions race to add a row under a limit of 3: exactly 3 get in.

        Each counts, yields (a request doing other work in between), then inserts; without
        the lock most of them see the same count and the limit is exceeded.
        """
        journal, limit = Journal(db), 3

        async def create(n: int) -> bool:
            async with db.transaction():
                await db.lock("contract:quota:account:7")
                if await journal.count() >= limit:
                    return False
                await asyncio.sleep(0.01)
                await journal.write(7, 1, f"create {n}")
                return True

        results = await asyncio.gather(*(create(n) for n in range(50)))
        assert sum(results) == limit
        assert await journal.count() == limit

    async def test_lock_is_released_on_rollback_and_commit(self, db: SqlDatabase) -> None:
        journal = Journal(db)
        with pytest.raises(Boom):
            async with db.transaction():
                await db.lock("contract:released")
                raise Boom
        for n in range(3):  # a leaked lock would make the second take wait for a timeout
            async with asyncio.timeout(WAIT):
                async with db.transaction():
                    await db.lock("contract:released")
                    await journal.write(1, n, "after")
        assert await journal.count() == 3

    async def test_lock_outside_a_transaction_is_an_error(self, db: SqlDatabase) -> None:
        with pytest.raises(PatternError, match="outside a transaction"):
            await db.lock("contract:nowhere")
        async with db.transaction():
            with pytest.raises(PatternError, match="non-empty"):
                await db.lock("")

    async def test_a_transaction_is_not_shared_with_child_tasks(self, db: SqlDatabase) -> None:
        accounts = Accounts(db)
        async with db.transaction():
            with pytest.raises(PatternError, match="another task"):
                await asyncio.create_task(accounts.balance(1))
        # after the transaction, a task that inherited the old context opens its own
        await asyncio.create_task(accounts.open(1, 1))
        assert await accounts.balance(1) == 1

    async def test_pool_exhaustion_is_a_clear_unavailable_error(
        self, database_under_test: DatabaseUnderTest
    ) -> None:
        overrides = {**database_under_test.one_connection, "pool_timeout": 0.2}
        async with self.running(database_under_test, **overrides) as app:
            db = app.services.require(Database)
            holding = asyncio.Event()
            release = asyncio.Event()

            async def hold() -> None:
                async with db.transaction() as session:
                    await session.execute(select(1))
                    holding.set()
                    await release.wait()

            holder = asyncio.create_task(hold())
            await asyncio.wait_for(holding.wait(), WAIT)
            try:
                with pytest.raises(UnavailableError) as caught:
                    async with db.transaction() as session:
                        await session.execute(select(1))
            finally:
                release.set()
                await holder
            assert caught.value.status == 503
            assert "no free connection" in caught.value.message
            assert "pool_size=1" in caught.value.message
            # the pool serves again once the connection is back
            async with db.session() as session:
                assert await session.scalar(select(1)) == 1

    # -- errors and health --------------------------------------------------------------

    async def test_constraint_violations_are_not_outages(self, db: SqlDatabase) -> None:
        accounts = Accounts(db)
        await accounts.open(1, 1)
        with pytest.raises(IntegrityError):
            await accounts.open(1, 1)

    async def test_health_reports_a_round_trip(self, app: Application) -> None:
        report = await app.health()
        (item,) = report.instances
        assert item.status is Status.UP
        assert item.details["latency_ms"] >= 0
        assert report.ready

    # -- outbox ------------------------------------------------------------------------

    async def test_outbox_hands_on_messages_only_after_commit(self, db: SqlDatabase) -> None:
        accounts = Accounts(db)
        received: list[Any] = []
        arrived = asyncio.Event()

        async def handler(message: Any) -> None:
            received.append(message)
            arrived.set()

        db.outbox.handle("contract.opened", handler)
        async with db.transaction():
            await accounts.open(1, 10)
            message_id = await db.outbox.add("contract.opened", {"account": 1})
            await asyncio.sleep(0.05)  # give a relay every chance to misbehave
            assert received == []
        await asyncio.wait_for(arrived.wait(), WAIT)
        assert [(m.id, m.topic, m.payload) for m in received] == [
            (message_id, "contract.opened", {"account": 1})
        ]
        await _until(lambda: db.outbox.pending(), 0)

    async def test_outbox_message_of_a_rolled_back_transaction_never_exists(
        self, db: SqlDatabase
    ) -> None:
        received: list[Any] = []

        async def handler(message: Any) -> None:
            received.append(message)

        db.outbox.handle("contract.rolled_back", handler)
        with pytest.raises(Boom):
            async with db.transaction():
                await db.outbox.add("contract.rolled_back", {"n": 1})
                raise Boom
        assert await db.outbox.pending() == 0
        assert await db.outbox.relay() == 0
        assert received == []

    async def test_outbox_keeps_a_message_its_handler_failed(self, db: SqlDatabase) -> None:
        failed = asyncio.Event()

        async def handler(message: Any) -> None:
            failed.set()
            raise RuntimeError("broker down")

        async with db.transaction():
            await db.outbox.add("contract.failing", {"n": 1})
        db.outbox.handle("contract.failing", handler)
        await db.outbox.relay()  # the background relay may get there first: both are fine
        await asyncio.wait_for(failed.wait(), WAIT)
        assert await db.outbox.pending("contract.failing") == 1


async def _until(probe: Any, expected: Any) -> None:
    """Wait (bounded) until ``await probe()`` returns ``expected``."""
    async with asyncio.timeout(WAIT):
        while (value := await probe()) != expected:
            await asyncio.sleep(0.01)
    assert value == expected
