"""Transactional enqueue for brokers that cannot join a database transaction.

Inside ``ctx.database.transaction()`` the jobs service writes the job to the database's
transactional outbox (topic ``rainmaker.jobs.<instance>``) instead of sending it; the
outbox relay hands it to :meth:`OutboxBridge.deliver` only after the commit, and a rolled
back transaction leaves nothing to relay. The relay delivers at least once, so the same
job may reach the broker twice after a crash; give such jobs an idempotency key.

With a ``tracker`` (``jobs-redis`` on a database), each such job is also kept in the
database until a worker settles it, so jobs the broker later loses are sent again
(:mod:`~rainmaker.patterns.jobs.tracked`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.jobs.messages import JobMessage
from rainmaker.patterns.jobs.store import JobStore
from rainmaker.patterns.jobs.tracked import TrackedJobs
from rainmaker.patterns.jobs.transport import Transport


class OutboxBridge:
    """Writes jobs to the outbox in a transaction and sends them on after commit."""

    def __init__(
        self,
        database: SqlDatabase,
        transport: Transport,
        store: JobStore,
        *,
        instance: str,
        idempotency_ttl: float,
        tracker: TrackedJobs | None = None,
    ) -> None:
        self.database = database
        self.tracker = tracker
        self.topic = f"rainmaker.jobs.{instance}"
        self._transport = transport
        self._store = store
        self._idempotency_ttl = idempotency_ttl
        database.outbox.handle(self.topic, self.deliver)

    async def add(self, message: JobMessage, delay: float, *, reserve_key: bool) -> None:
        """Write ``message`` in the current transaction, due ``delay`` seconds from now."""
        if self.tracker is not None:
            message = replace(message, tracked=True)
            await self.tracker.add(message, delay)
        await self.database.outbox.add(
            self.topic,
            {
                "message": message.encode().decode(),
                "due": time.time() + delay if delay > 0 else None,
                "reserve_key": reserve_key,
            },
        )

    async def deliver(self, outbox_message: Any) -> None:
        """Relay handler: send a committed job to the broker (raises to be retried)."""
        payload = outbox_message.payload
        message = JobMessage.decode(payload["message"])
        if payload.get("reserve_key") and message.idempotency_key is not None:
            holder = await self._store.reserve_key(
                message.idempotency_key, message.job_id, self._idempotency_ttl
            )
            if holder is not None and holder != message.job_id:
                # The key's first job was already sent: this one never will be, so it
                # must not wait in the tracked table for the reconciler to resend it.
                if message.tracked and self.tracker is not None:
                    await self.tracker.settle(message.job_id)
                return
        due = payload.get("due")
        delay = max(float(due) - time.time(), 0.0) if due is not None else 0.0
        if message.tracked and self.tracker is not None:
            await self.tracker.send(message, delay)
        else:
            await self._transport.send(message, delay)
