"""Jobs a broker may lose, kept in the database until a worker settles them (``jobs-redis``).

A Redis without persistence (or with an eviction policy other than ``noeviction``) loses
its streams on a restart, a ``FLUSHDB`` or memory pressure, and nothing notices: the outbox
rows say *dispatched*. So a job enqueued inside a database transaction also gets a row in
``jobs_redis_tracked`` (same transaction). The relay sends it with a *hold marker*
(``<prefix>:held:<job id>``, written atomically with the stream entry); the worker deletes
the row, then the marker, once the job succeeded or was dead-lettered. The
:class:`Reconciler` (a periodic task of the worker role) looks at rows sent longer than
``reconcile_after`` ago: when the broker no longer holds their marker it lost them, and
they are sent again. A rerun is possible (a marker that expired, a settle that failed), so
jobs with side effects should carry an idempotency key, as for any at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from rainmaker import utcnow
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.utc_datetime import UtcDateTime
from rainmaker.patterns.jobs.messages import JobMessage

metadata = MetaData()

tracked_table = Table(
    "jobs_redis_tracked",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("resent", Integer, nullable=False, server_default="0"),
    Index("jobs_redis_tracked_sent_at", "sent_at"),
)

RECONCILE_BATCH = 200


class JobHolder(Protocol):
    """A broker that can say whether it still holds a job (``RedisTransport`` is one)."""

    async def send_held(self, message: JobMessage, delay: float, ttl: float) -> None:
        """Send ``message`` and, atomically with it, its hold marker (kept ``ttl`` s)."""
        ...

    async def held(self, job_ids: list[str]) -> set[str]:
        """Which of ``job_ids`` still have their hold marker."""
        ...

    async def forget(self, job_id: str) -> None:
        """Drop the hold marker of a settled job."""
        ...


@dataclass(frozen=True)
class TrackedCounts:
    """Jobs waiting in the database for a worker to settle them."""

    tracked: int
    resent: int


class TrackedJobs:
    """The ``jobs_redis_tracked`` rows of one jobs instance and what changes them."""

    def __init__(self, database: SqlDatabase, holder: JobHolder, *, marker_ttl: float) -> None:
        self.database = database
        self.holder = holder
        self.marker_ttl = marker_ttl

    async def add(self, message: JobMessage, delay: float) -> None:
        """Keep ``message`` in the current transaction (it commits with the caller's data)."""
        now = utcnow()
        async with self.database.session() as session:
            await session.execute(
                insert(tracked_table).values(
                    job_id=message.job_id,
                    name=message.name,
                    queue=message.queue,
                    message=message.encode().decode(),
                    created_at=now,
                    due_at=now + timedelta(seconds=delay),
                    sent_at=None,
                    resent=0,
                )
            )

    async def send(self, message: JobMessage, delay: float) -> None:
        """Relay path: send with its hold marker, then note when it was sent."""
        await self.holder.send_held(message, delay, delay + self.marker_ttl)
        async with self.database.transaction() as session:
            await session.execute(
                update(tracked_table)
                .where(tracked_table.c.job_id == message.job_id)
                .values(sent_at=utcnow())
            )

    async def settle(self, job_id: str) -> None:
        """The worker is done with this job (succeeded or dead): forget it, row first.

        Row before marker: a crash in between leaves a marker without a row, which only
        expires; the other order could leave a row without a marker, which would be resent.
        """
        async with self.database.transaction() as session:
            await session.execute(delete(tracked_table).where(tracked_table.c.job_id == job_id))
        await self.holder.forget(job_id)

    async def counts(self) -> TrackedCounts:
        """How many jobs are tracked, and how many of them the reconciler sent again."""
        async with self.database.transaction() as session:
            row = (
                await session.execute(
                    select(func.count(), func.coalesce(func.sum(tracked_table.c.resent), 0))
                )
            ).one()
        return TrackedCounts(tracked=int(row[0]), resent=int(row[1]))

    async def reconcile(self, after: float) -> int:
        """Send again the jobs sent over ``after`` s ago that the broker no longer holds.

        Several workers may reconcile at once: each row is taken with a compare-and-set on
        ``sent_at``, so only one of them sends it. Returns how many were sent again.
        """
        now = utcnow()
        cutoff = now - timedelta(seconds=after)
        table = tracked_table
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    select(table.c.job_id, table.c.message, table.c.due_at, table.c.sent_at)
                    .where(
                        or_(
                            table.c.sent_at < cutoff,
                            # sent, but the note of it was lost (a crash right after sending)
                            and_(table.c.sent_at.is_(None), table.c.created_at < cutoff),
                        )
                    )
                    .order_by(table.c.created_at)
                    .limit(RECONCILE_BATCH)
                )
            ).all()
        if not rows:
            return 0
        still_held = await self.holder.held([row.job_id for row in rows])
        resent = 0
        for row in rows:
            if row.job_id in still_held:
                continue
            async with self.database.transaction() as session:
                previous = (
                    table.c.sent_at.is_(None)
                    if row.sent_at is None
                    else table.c.sent_at == row.sent_at
                )
                result: Any = await session.execute(
                    update(table)
                    .where(table.c.job_id == row.job_id, previous)
                    .values(sent_at=utcnow(), resent=table.c.resent + 1)
                )
            if not result.rowcount:
                continue  # another worker took it, or a worker settled it meanwhile
            message = JobMessage.decode(row.message)
            delay = max((row.due_at - utcnow()).total_seconds(), 0.0)
            await self.holder.send_held(message, delay, delay + self.marker_ttl)
            resent += 1
        return resent


class Reconciler:
    """Every ``interval`` s, refill the broker with tracked jobs it lost."""

    def __init__(self, tracked: TrackedJobs, *, after: float, log: Any) -> None:
        self.tracked = tracked
        self.after = after
        # Often enough to notice a loss well within the bound, rarely enough to cost nothing.
        self.interval = max(min(after / 4, 30.0), 0.2)
        self.log = log

    async def run(self) -> None:
        """Reconcile forever (cancel the task to stop); failures are logged and retried."""
        while True:
            began = time.monotonic()
            try:
                resent = await self.tracked.reconcile(self.after)
            except Exception as error:  # the database or Redis is away: try again later
                self.log.warning("jobs.reconcile_failed", error=repr(error))
            else:
                if resent:
                    self.log.warning(
                        "jobs.reconciled",
                        resent=resent,
                        reason="the broker no longer held these committed jobs (flushed, "
                        "restarted without persistence or evicted); sent them again",
                        ms=round((time.monotonic() - began) * 1000, 2),
                    )
            await asyncio.sleep(self.interval)
