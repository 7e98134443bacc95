"""The transactional outbox: messages written with the data, handed on only after commit.

A pattern that must trigger a side effect (enqueue a job, send an email) writes an outbox
row in the same transaction as its data with :meth:`Outbox.add`. Nothing leaves the
process until that transaction commits; a rolled-back transaction leaves no message. The
relay then hands committed rows to the handler registered for their topic and marks them
done. Delivery is at least once: a crash between handling and marking repeats the
message, so handlers must be idempotent (the message ``id`` is a good idempotency key).

Relays in several processes may run at once: rows are claimed with a lease (and ``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, MySQL and MariaDB) before they are handed on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from rainmaker import UnavailableError, utcnow
from rainmaker.patterns.database.tables import outbox_table

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

RELAY_BATCH = 100


@dataclass(frozen=True)
class OutboxMessage:
    """One committed message as a handler receives it."""

    id: int
    topic: str
    payload: Any
    created_at: datetime
    attempts: int


Handler = Callable[[OutboxMessage], Awaitable[None]]


class OutboxStore(Protocol):
    """What the outbox needs of its database (:class:`SqlAlchemyDatabase` is one).

    Written as a protocol so that this module does not import ``database.py``, which
    imports it: the two would form an import cycle, if only for the type checker.
    """

    def session(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def independent_session(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def on_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None: ...


class Outbox:
    """The outbox of one database instance (``db.outbox``)."""

    def __init__(self, database: OutboxStore, *, lease: float = 60.0) -> None:
        self._db = database
        self._handlers: dict[str, Handler] = {}
        self._wakeup = asyncio.Event()
        self.lease = lease

    def handle(self, topic: str, handler: Handler) -> None:
        """Hand every committed message of ``topic`` to ``handler`` (one handler per topic)."""
        if topic in self._handlers and self._handlers[topic] is not handler:
            raise ValueError(f"outbox topic {topic!r} already has a handler")
        self._handlers[topic] = handler

    async def add(self, topic: str, payload: Mapping[str, Any] | list[Any] | str | int) -> int:
        """Write a message in the current transaction (or a unit of its own); its id.

        The message is handed on only once that transaction commits.
        """
        async with self._db.session() as session:
            # inserted_primary_key, not RETURNING: MySQL has no INSERT … RETURNING (the
            # dialect reads the new id from RETURNING or the driver's lastrowid).
            result: Any = await session.execute(
                insert(outbox_table).values(
                    topic=topic, payload=payload, created_at=utcnow(), attempts=0
                )
            )
            message_id = int(result.inserted_primary_key[0])
            self._db.on_commit(self._wakeup.set)
        return message_id

    async def pending(self, topic: str | None = None) -> int:
        """How many messages are not handed on yet (committed ones only)."""
        query = (
            select(func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.dispatched_at.is_(None))
        )
        if topic is not None:
            query = query.where(outbox_table.c.topic == topic)
        async with self._db.independent_session() as session:
            return int((await session.execute(query)).scalar_one())

    async def relay(self, *, limit: int = RELAY_BATCH) -> int:
        """Hand up to ``limit`` committed messages to their handlers; how many succeeded.

        A handler that raises leaves its message pending; it is retried after a delay
        that grows with its attempts.
        """
        if not self._handlers:
            return 0
        claimed = await self._claim(limit)
        delivered: list[int] = []
        failed: list[tuple[OutboxMessage, str]] = []
        for message in claimed:
            handler = self._handlers.get(message.topic)
            if handler is None:  # unregistered since the claim; its lease expires
                continue
            try:
                await handler(message)
            except Exception as error:
                failed.append((message, f"{type(error).__name__}: {error}"[:2000]))
            else:
                delivered.append(message.id)
        await self._settle(delivered, failed)
        return len(delivered)

    async def purge(self, older_than: timedelta) -> int:
        """Delete handed-on messages older than ``older_than``; how many were deleted."""
        cutoff = utcnow() - older_than
        async with self._db.independent_session() as session:
            result: Any = await session.execute(
                delete(outbox_table).where(
                    outbox_table.c.dispatched_at.is_not(None),
                    outbox_table.c.dispatched_at < cutoff,
                )
            )
            return int(result.rowcount or 0)

    async def run(self, poll_interval: float, log: Any) -> None:
        """Relay forever: right after each commit that added messages, and every
        ``poll_interval`` seconds (0: only after commits). Cancel the task to stop."""
        while True:
            self._wakeup.clear()
            handled = 0
            try:
                handled = await self.relay()
            except UnavailableError as error:
                log.warning("outbox.relay_unavailable", error=error.message)
            except Exception as error:
                log.error("outbox.relay_failed", error=repr(error))
            if handled >= RELAY_BATCH:
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), poll_interval or None)
            except TimeoutError:
                pass

    async def _claim(self, limit: int) -> list[OutboxMessage]:
        now = utcnow()
        table = outbox_table
        async with self._db.independent_session() as session:
            rows = (
                await session.execute(
                    select(
                        table.c.id,
                        table.c.topic,
                        table.c.payload,
                        table.c.created_at,
                        table.c.attempts,
                    )
                    .where(
                        table.c.dispatched_at.is_(None),
                        table.c.topic.in_(list(self._handlers)),
                        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                    )
                    .order_by(table.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return []
            await session.execute(
                update(table)
                .where(table.c.id.in_([row.id for row in rows]))
                .values(
                    claimed_until=now + timedelta(seconds=self.lease),
                    attempts=table.c.attempts + 1,
                )
            )
        return [
            OutboxMessage(row.id, row.topic, row.payload, row.created_at, row.attempts + 1)
            for row in rows
        ]

    async def _settle(self, delivered: list[int], failed: list[tuple[OutboxMessage, str]]) -> None:
        if not delivered and not failed:
            return
        table = outbox_table
        async with self._db.independent_session() as session:
            if delivered:
                await session.execute(
                    update(table)
                    .where(table.c.id.in_(delivered))
                    .values(dispatched_at=utcnow(), claimed_until=None, last_error=None)
                )
            for message, error in failed:
                retry = min(2 ** min(message.attempts, 10), 300)
                await session.execute(
                    update(table)
                    .where(table.c.id == message.id)
                    .values(last_error=error, claimed_until=utcnow() + timedelta(seconds=retry))
                )
