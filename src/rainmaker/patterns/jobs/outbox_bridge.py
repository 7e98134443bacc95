"""Transactional enqueue for brokers that cannot join a database transaction.

Inside ``ctx.database.transaction()`` the jobs service writes the job to the database's
transactional outbox (topic ``rainmaker.jobs.<instance>``) instead of sending it; the
outbox relay hands it to :meth:`OutboxBridge.deliver` only after the commit, and a rolled
back transaction leaves nothing to relay. The relay delivers at least once, so the same
job may reach the broker twice after a crash; give such jobs an idempotency key.
"""

from __future__ import annotations

import time
from typing import Any

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.jobs.messages import JobMessage
from rainmaker.patterns.jobs.store import JobStore
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
    ) -> None:
        self.database = database
        self.topic = f"rainmaker.jobs.{instance}"
        self._transport = transport
        self._store = store
        self._idempotency_ttl = idempotency_ttl
        database.outbox.handle(self.topic, self.deliver)

    async def add(self, message: JobMessage, delay: float, *, reserve_key: bool) -> None:
        """Write ``message`` in the current transaction, due ``delay`` seconds from now."""
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
                return  # the key's first job was already sent
        due = payload.get("due")
        delay = max(float(due) - time.time(), 0.0) if due is not None else 0.0
        await self._transport.send(message, delay)
