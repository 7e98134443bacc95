"""``jobs-local``: a durable queue in the app's own database, as a taskiq broker.

:class:`LocalBroker` is a :class:`taskiq.AsyncBroker` (``kick`` inserts a row, ``listen``
yields claimed rows), so taskiq's own worker could consume it too; :class:`LocalTransport`
adds what our worker needs besides (release, lease renewal, backlog).

Rows are claimed with a lease: ``claimed_until`` is set a ``visibility_timeout`` ahead and
renewed while the job runs; a worker killed mid-job stops renewing, the lease runs out and
another worker claims the row. On PostgreSQL the claim query uses ``FOR UPDATE SKIP
LOCKED``, so concurrent workers never wait on each other; on SQLite the write lock
serialises claims. A send inside ``ctx.database.transaction()`` is an ``INSERT`` in that
transaction: it commits or rolls back with the caller's data (no outbox needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, or_, select, update
from taskiq import AckableMessage, AsyncBroker, BrokerMessage

from rainmaker import UnavailableError, utcnow
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.jobs import QueueStats
from rainmaker.patterns.jobs.messages import JobMessage
from rainmaker.patterns.jobs.tables import queue_table
from rainmaker.patterns.jobs.transport import Delivery


class LocalBroker(AsyncBroker):
    """A taskiq broker whose queue is the ``jobs_queue`` table of a database."""

    def __init__(
        self,
        database: SqlDatabase,
        *,
        owner: str,
        lease: float,
        poll_interval: float,
        queues: Sequence[str] = ("default",),
    ) -> None:
        super().__init__()
        self.database = database
        self.owner = owner
        self.lease = lease
        self.poll_interval = poll_interval
        self.queues = list(queues)
        self._wakeup = asyncio.Event()

    # -- taskiq's broker interface ---------------------------------------------------------

    async def kick(self, message: BrokerMessage) -> None:
        """Insert ``message`` (labels ``queue_name`` and ``delay`` are honoured)."""
        queue = str(message.labels.get("queue_name") or self.queues[0])
        delay = float(message.labels.get("delay") or 0)
        await self.insert(queue, message.task_id, message.message, delay)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield claimed rows of ``self.queues``; acknowledging deletes the row."""
        async for delivery in self.deliveries(self.queues, 10):
            yield AckableMessage(data=delivery.data, ack=delivery.ack)

    # -- the queue --------------------------------------------------------------------------

    async def insert(self, queue: str, job_id: str, data: bytes, delay: float) -> None:
        """One row, ready after ``delay`` seconds; joins the caller's transaction."""
        now = utcnow()
        async with self.database.session() as session:
            await session.execute(
                insert(queue_table).values(
                    queue=queue,
                    job_id=job_id,
                    message=data.decode(),
                    created_at=now,
                    available_at=now + timedelta(seconds=max(delay, 0.0)),
                )
            )
            if self.database.in_transaction:
                self.database.on_commit(self._wakeup.set)
        if delay <= 0:
            self._wakeup.set()

    async def claim(self, queues: Sequence[str], limit: int) -> list[tuple[int, str]]:
        """Lease up to ``limit`` ready rows to this owner: ``(row id, message)`` pairs."""
        now = utcnow()
        table = queue_table
        async with self.database.session() as session:
            rows = (
                await session.execute(
                    select(table.c.id, table.c.message)
                    .where(
                        table.c.queue.in_(list(queues)),
                        table.c.available_at <= now,
                        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                    )
                    .order_by(table.c.available_at, table.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await session.execute(
                    update(table)
                    .where(table.c.id.in_([row.id for row in rows]))
                    .values(
                        claimed_until=now + timedelta(seconds=self.lease), claimed_by=self.owner
                    )
                )
        return [(int(row.id), str(row.message)) for row in rows]

    async def ack(self, row_id: int) -> None:
        async with self.database.session() as session:
            await session.execute(delete(queue_table).where(queue_table.c.id == row_id))

    async def release(self, row_id: int) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(queue_table)
                .where(queue_table.c.id == row_id, queue_table.c.claimed_by == self.owner)
                .values(claimed_until=None, claimed_by=None)
            )
        self._wakeup.set()

    async def renew(self, row_ids: Sequence[int]) -> int:
        """Push the lease of rows this owner still holds; how many it still holds."""
        if not row_ids:
            return 0
        now = utcnow()
        async with self.database.session() as session:
            result: Any = await session.execute(
                update(queue_table)
                .where(
                    queue_table.c.id.in_(list(row_ids)),
                    queue_table.c.claimed_by == self.owner,
                    queue_table.c.claimed_until > now,
                )
                .values(claimed_until=now + timedelta(seconds=self.lease))
            )
        return int(result.rowcount or 0)

    async def deliveries(self, queues: Sequence[str], prefetch: int) -> AsyncIterator[Delivery]:
        """Claimed rows as deliveries; unyielded ones are released when the caller stops."""
        backoff = self.poll_interval
        while True:
            self._wakeup.clear()
            try:
                claimed = await self.claim(queues, prefetch)
            except UnavailableError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = self.poll_interval
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
                continue
            claimed_at = time.monotonic()
            pending = deque(claimed)
            try:
                while pending:
                    row_id, data = pending[0]
                    # A row that waited in this batch for a third of its lease is renewed
                    # first; if the lease was lost, another worker has it: skip it.
                    if time.monotonic() - claimed_at > self.lease / 3:
                        if not await self.renew([row_id]):
                            pending.popleft()
                            continue
                    pending.popleft()
                    yield self._delivery(row_id, data)
            finally:
                await _release_all(self, [row_id for row_id, _ in pending])

    def _delivery(self, row_id: int, data: str) -> Delivery:
        async def ack() -> None:
            await self.ack(row_id)

        async def release() -> None:
            await self.release(row_id)

        return Delivery(data.encode(), ack, release, row_id)


async def _release_all(broker: LocalBroker, row_ids: list[int]) -> None:
    for row_id in row_ids:
        with contextlib.suppress(Exception):  # the lease runs out anyway
            await asyncio.shield(broker.release(row_id))


class LocalTransport:
    """:class:`~rainmaker.patterns.jobs.transport.Transport` over a :class:`LocalBroker`."""

    transactional = True

    def __init__(self, broker: LocalBroker) -> None:
        self.broker = broker

    @property
    def endpoint(self) -> str:
        return f"database {self.broker.database.instance}"

    async def start(self) -> None:
        await self.broker.startup()

    async def stop(self) -> None:
        await self.broker.shutdown()

    async def send(self, message: JobMessage, delay: float = 0.0) -> None:
        await self.broker.insert(message.queue, message.job_id, message.encode(), delay)

    def receive(self, queues: Sequence[str], prefetch: int) -> AsyncIterator[Delivery]:
        return self.broker.deliveries(queues, prefetch)

    async def renew(self, tokens: Sequence[Any]) -> None:
        await self.broker.renew([int(token) for token in tokens])

    async def ping(self) -> float:
        began = time.perf_counter()
        async with self.broker.database.session() as session:
            await session.execute(select(1))
        return (time.perf_counter() - began) * 1000

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        now = utcnow()
        table = queue_table
        ready = table.c.available_at <= now
        async with self.broker.database.session() as session:
            rows = (
                await session.execute(
                    # CASE rather than aggregate FILTER, which MySQL and MariaDB lack.
                    select(
                        table.c.queue,
                        func.count(case((ready, 1))),
                        func.count(case((~ready, 1))),
                        func.min(case((ready, table.c.available_at))),
                    )
                    .where(table.c.queue.in_(list(queues)))
                    .group_by(table.c.queue)
                )
            ).all()
        found = {row[0]: row for row in rows}
        result = []
        for queue in queues:
            row = found.get(queue)
            if row is None:
                result.append(QueueStats(queue, 0, 0, None))
                continue
            oldest = None if row[3] is None else max((now - row[3]).total_seconds(), 0.0)
            result.append(QueueStats(queue, int(row[1]), int(row[2]), oldest))
        return result
