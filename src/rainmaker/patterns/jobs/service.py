"""The jobs service: what ``ctx.jobs`` is, whichever backend carries the jobs.

It checks a job before anything leaves (known name, JSON arguments, sane delay), applies
idempotency keys, and routes it: straight to the broker, or through the database outbox
when the caller is inside a transaction and the broker cannot join it. With a ``tracer``
(tracing on), each enqueue is a ``jobs.enqueue <job>`` producer span whose context
travels with the job, so the worker's ``jobs.run <job>`` span continues its trace.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from rainmaker import InvalidInputError, NotFoundError
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.jobs import FailedJob, JobRegistry, QueueStats
from rainmaker.capabilities.tracing import SpanTracer
from rainmaker.patterns.jobs.messages import JobMessage, new_job_id
from rainmaker.patterns.jobs.outbox_bridge import OutboxBridge
from rainmaker.patterns.jobs.registry import JobCatalog, check_arguments
from rainmaker.patterns.jobs.store import JobStore
from rainmaker.patterns.jobs.transport import Transport


class JobService:
    """The :class:`~rainmaker.capabilities.jobs.JobQueue` of one jobs instance."""

    def __init__(
        self,
        *,
        instance: str,
        transport: Transport,
        store: JobStore,
        catalog: JobCatalog,
        queues: list[str],
        idempotency_ttl: float,
        database: SqlDatabase | None = None,
        bridge: OutboxBridge | None = None,
        tracer: SpanTracer | None = None,
    ) -> None:
        self.instance = instance
        self.transport = transport
        self.store = store
        self.catalog = catalog
        self.default_queues = list(queues)
        self.idempotency_ttl = idempotency_ttl
        self.database = database
        self.bridge = bridge
        self.tracer = tracer

    def register(self, registry: JobRegistry) -> None:
        """Make every job of ``registry`` known to this app."""
        self.catalog.register(registry)

    async def enqueue(
        self,
        job: str,
        *args: Any,
        delay: float | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Check and send one job (see :meth:`JobQueue.enqueue`); its id."""
        spec = self.catalog.require(job)
        if delay is not None and (not math.isfinite(delay) or delay < 0):
            raise InvalidInputError(
                f"job {job}: delay must be a finite number of seconds >= 0 (got {delay!r})",
                pattern_id=self.instance,
            )
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
            raise InvalidInputError(
                f"job {job}: idempotency_key must be 1-200 characters",
                pattern_id=self.instance,
            )
        check_arguments(spec, args, kwargs, instance=self.instance)
        message = JobMessage(
            job_id=new_job_id(),
            name=spec.name,
            queue=spec.queue,
            args=list(args),
            kwargs=dict(kwargs),
            idempotency_key=idempotency_key,
        )
        tracer = self.tracer
        if tracer is None:
            return await self.submit(message, delay or 0.0)
        with tracer.span(
            f"jobs.enqueue {spec.name}",
            {
                "job.name": spec.name,
                "job.queue": spec.queue,
                "job.delay_s": delay or 0.0,
                "rainmaker.instance": self.instance,
            },
            kind="producer",
        ) as span:
            message = replace(message, trace_context=tracer.carrier() or None)
            job_id = await self.submit(message, delay or 0.0)
            span.set_attribute("job.id", job_id)
            if job_id != message.job_id:
                span.set_attribute("job.deduplicated", True)
            return job_id

    async def submit(self, message: JobMessage, delay: float = 0.0) -> str:
        """Send an already checked job, honouring its idempotency key and the transaction.

        Returns the id of the job that holds the key (``message``'s own id when new).
        """
        in_transaction = self.database is not None and self.database.in_transaction
        via_outbox = in_transaction and not self.transport.transactional
        key = message.idempotency_key
        if key is not None and (self.store.transactional or not via_outbox):
            holder = await self.store.reserve_key(key, message.job_id, self.idempotency_ttl)
            if holder is not None:
                return holder
        if via_outbox:
            assert self.bridge is not None
            await self.bridge.add(
                message, delay, reserve_key=key is not None and not self.store.transactional
            )
        else:
            await self.transport.send(message, delay)
        return message.job_id

    async def settle(self, message: JobMessage) -> None:
        """A worker is done with ``message`` (succeeded or dead): stop tracking it."""
        tracker = self.bridge.tracker if self.bridge is not None else None
        if message.tracked and tracker is not None:
            await tracker.settle(message.job_id)

    async def tracked(self) -> dict[str, int] | None:
        """Committed jobs kept in the database until a worker settles them (``None`` when
        this backend keeps none): how many, and how many were sent again after the broker
        lost them. ``rainmaker jobs stats`` shows it."""
        tracker = self.bridge.tracker if self.bridge is not None else None
        if tracker is None:
            return None
        counts = await tracker.counts()
        return {"tracked": counts.tracked, "resent": counts.resent}

    async def failed(self, limit: int = 100) -> list[FailedJob]:
        """Dead-lettered jobs, newest first."""
        return await self.store.failed(limit)

    async def retry(self, failed_id: str) -> str:
        """Enqueue a dead-lettered job again, attempts starting over; the new job id."""
        message = await self.store.take_failed(failed_id)
        if message is None:
            raise NotFoundError(
                f"no failed job with id {failed_id!r}",
                pattern_id=self.instance,
                hint="`rainmaker jobs failed` lists the ids",
            )
        again = JobMessage(
            job_id=new_job_id(),
            name=message.name,
            queue=message.queue,
            args=message.args,
            kwargs=message.kwargs,
            idempotency_key=message.idempotency_key,
        )
        await self.transport.send(again)
        return again.job_id

    def known_queues(self) -> list[str]:
        """The configured queues and every queue a registered job uses."""
        return sorted(set(self.default_queues) | self.catalog.queues())

    async def stats(self) -> list[QueueStats]:
        """The backlog of every known queue."""
        return await self.transport.stats(self.known_queues())
