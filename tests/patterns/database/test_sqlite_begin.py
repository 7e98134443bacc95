"""When SQLite units of work take the write lock: ``transaction()`` up front, a
``session()`` block at its first write (so read-only blocks never queue for it)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text

from rainmaker import UnavailableError
from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.testing.harness import build_app

T = TypeVar("T")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    # A short busy timeout: a statement that would wait for the write lock fails fast.
    app = build_app(
        {"db": {"use": "database-sqlite", "path": "app.db", "busy_timeout": 0.2}},
        root=tmp_path,
    )
    async with app.running():
        database = app.services.require(Database)
        async with database.transaction() as session:
            await session.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY)"))
            await session.execute(text("INSERT INTO items (id) VALUES (1)"))
        yield database


def elsewhere(work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """``work`` in a task of its own outside the caller's unit of work (another request)."""
    return asyncio.create_task(work, context=contextvars.Context())


async def count(db: SqlDatabase) -> int:
    async with db.session() as session:
        return int(await session.scalar(text("SELECT count(*) FROM items")) or 0)


async def test_a_read_only_session_does_not_wait_for_a_writer(db: SqlDatabase) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO items (id) VALUES (2)"))
        # Another task reads while this transaction holds the write lock: it answers
        # at once with the last committed state instead of timing out on the lock.
        assert await elsewhere(count(db)) == 1
    assert await count(db) == 2


async def test_a_session_that_writes_takes_the_write_lock(db: SqlDatabase) -> None:
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM items")) == 1
        await session.execute(text("INSERT INTO items (id) VALUES (2)"))

        async def write_meanwhile() -> None:
            async with db.transaction() as other:
                await other.execute(text("INSERT INTO items (id) VALUES (3)"))

        # The block's write began its transaction: a second writer cannot get in.
        with pytest.raises(UnavailableError, match="locked"):
            await elsewhere(write_meanwhile())
    assert await count(db) == 2


async def test_a_session_block_that_fails_after_writing_rolls_back(db: SqlDatabase) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await session.execute(text("INSERT INTO items (id) VALUES (2)"))
            await session.execute(text("INSERT INTO items (id) VALUES (3)"))
            raise RuntimeError("undo both")
    assert await count(db) == 1


async def test_lock_in_a_session_block_takes_the_write_lock_before_reading(
    db: SqlDatabase,
) -> None:
    async with db.session() as session:
        await db.lock("items")

        async def write_meanwhile() -> None:
            async with db.transaction() as other:
                await other.execute(text("INSERT INTO items (id) VALUES (3)"))

        with pytest.raises(UnavailableError, match="locked"):
            await elsewhere(write_meanwhile())
        assert await session.scalar(text("SELECT count(*) FROM items")) == 1


async def test_a_transaction_takes_the_write_lock_before_its_first_read(
    db: SqlDatabase,
) -> None:
    async with db.transaction() as session:
        assert await session.scalar(text("SELECT count(*) FROM items")) == 1

        async def write_meanwhile() -> None:
            async with db.transaction() as other:
                await other.execute(text("INSERT INTO items (id) VALUES (3)"))

        with pytest.raises(UnavailableError, match="locked"):
            await elsewhere(write_meanwhile())


async def test_select_for_update_in_a_session_takes_the_write_lock(db: SqlDatabase) -> None:
    from sqlalchemy import column, select, table

    items = table("items", column("id"))
    async with db.session() as session:
        await session.execute(select(items.c.id).with_for_update())

        async def write_meanwhile() -> None:
            async with db.transaction() as other:
                await other.execute(text("INSERT INTO items (id) VALUES (3)"))

        with pytest.raises(UnavailableError, match="locked"):
            await elsewhere(write_meanwhile())


async def test_writers_of_one_process_queue_then_fail_after_busy_timeout(
    db: SqlDatabase,
) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO items (id) VALUES (2)"))
            holding.set()
            await release.wait()

    async def write_meanwhile() -> None:
        async with db.transaction() as other:
            await other.execute(text("INSERT INTO items (id) VALUES (3)"))

    holder = elsewhere(hold())
    await holding.wait()
    try:
        with pytest.raises(UnavailableError, match="write lock was not free"):
            await elsewhere(write_meanwhile())
    finally:
        release.set()
        await holder
    await elsewhere(write_meanwhile())  # the turn passes on once the holder committed
    assert await count(db) == 3
