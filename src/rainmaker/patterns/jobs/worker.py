"""The worker: takes jobs from the broker, runs them, retries or dead-letters failures.

At least once: a delivery is acknowledged only after its job finished (succeeded, was
rescheduled for another attempt, or was dead-lettered), so a worker that dies mid-job
leaves the job to the broker, which hands it to another worker. While a job runs, the
worker renews its hold every third of ``visibility_timeout``.

Graceful stop (:meth:`Worker.stop`, wired to SIGTERM/SIGINT by ``rainmaker worker``): no
new job is taken, jobs in flight get ``drain_timeout`` seconds to finish, and those still
running then are cancelled and released to the queue, where another worker picks them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rainmaker.capabilities.jobs import JobContext, JobSpec, bind_current_job
from rainmaker.patterns.jobs.messages import JobMessage
from rainmaker.patterns.jobs.service import JobService
from rainmaker.patterns.jobs.transport import Delivery

# Seconds the worker waits, when stopping, for a cancelled broker read to give way.
CANCEL_GRACE = 5.0


@dataclass
class WorkerCounters:
    """What one worker did, for logs and health."""

    succeeded: int = 0
    retried: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    released: int = 0
    # Wall-clock UTC, for people reading the log (a monotonic value means nothing there).
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Worker:
    """Runs jobs from ``queues`` with at most ``concurrency`` at once."""

    def __init__(
        self,
        service: JobService,
        *,
        queues: Sequence[str],
        concurrency: int,
        drain_timeout: float,
        visibility_timeout: float,
        log: Any,
    ) -> None:
        self.service = service
        self.queues = list(queues)
        self.concurrency = concurrency
        self.drain_timeout = drain_timeout
        self.visibility_timeout = visibility_timeout
        self.log = log
        self.counters = WorkerCounters()
        self._stopping = asyncio.Event()
        self._in_flight: dict[asyncio.Task[None], Delivery] = {}

    @property
    def in_flight(self) -> int:
        """Jobs running right now."""
        return len(self._in_flight)

    def stop(self) -> None:
        """Stop taking jobs; :meth:`run` drains and returns."""
        self._stopping.set()

    async def run(self) -> WorkerCounters:
        """Consume until :meth:`stop`; then drain within ``drain_timeout`` and return."""
        transport = self.service.transport
        slots = asyncio.Semaphore(self.concurrency)
        deliveries = transport.receive(self.queues, self.concurrency)
        heartbeat = asyncio.create_task(self._heartbeat(), name="rainmaker.jobs.heartbeat")
        stopping = asyncio.create_task(self._stopping.wait())
        self.log.info("jobs.worker_started", queues=self.queues, concurrency=self.concurrency)
        try:
            while not self._stopping.is_set():
                if not await _first(slots.acquire(), stopping):
                    break
                delivery = await self._next(deliveries, stopping)
                if delivery is None:
                    slots.release()
                    break
                task = asyncio.create_task(self._handle(delivery))
                self._in_flight[task] = delivery
                task.add_done_callback(functools.partial(self._finished, slots=slots))
        finally:
            stopping.cancel()
            with contextlib.suppress(Exception):
                # Bounded: a driver that does not honour cancellation mid-query (seen with
                # asyncmy under load) must not keep the worker from exiting.
                await asyncio.wait_for(deliveries.aclose(), CANCEL_GRACE)  # type: ignore[attr-defined]
            await self._drain()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        self.log.info(
            "jobs.worker_stopped",
            **{**vars(self.counters), "started_at": self.counters.started_at.isoformat()},
        )
        return self.counters

    def _finished(self, task: asyncio.Task[None], *, slots: asyncio.Semaphore) -> None:
        self._in_flight.pop(task, None)
        slots.release()

    async def _next(
        self, deliveries: AsyncIterator[Delivery], stopping: asyncio.Task[Any]
    ) -> Delivery | None:
        getter = asyncio.ensure_future(anext(deliveries))
        done, _ = await asyncio.wait({getter, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        # A delivery that arrived while we were stopping is given back; one still being
        # fetched after CANCEL_GRACE is left to its visibility timeout.
        await asyncio.wait({getter}, timeout=CANCEL_GRACE)
        if getter.done() and not getter.cancelled() and getter.exception() is None:
            delivery = getter.result()
            if delivery is not None:
                with contextlib.suppress(Exception):
                    await delivery.release()
        return None

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        self.log.info("jobs.worker_draining", in_flight=len(self._in_flight))
        _, still_running = await asyncio.wait(set(self._in_flight), timeout=self.drain_timeout)
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.wait(still_running)

    async def _heartbeat(self) -> None:
        interval = self.visibility_timeout / 3
        while True:
            await asyncio.sleep(interval)
            tokens = [d.token for d in self._in_flight.values()]
            if not tokens:
                continue
            try:
                await self.service.transport.renew(tokens)
            except Exception as error:
                self.log.warning("jobs.renew_failed", error=repr(error))

    async def _handle(self, delivery: Delivery) -> None:
        try:
            await self._process(delivery)
        except asyncio.CancelledError:
            # Cancelled by a drain that ran out of time: the job goes back to the queue.
            with contextlib.suppress(Exception):
                await asyncio.shield(delivery.release())
            self.counters.released += 1
            raise
        except Exception as error:  # the broker failed us: the job will be redelivered
            self.log.error("jobs.delivery_failed", error=repr(error))

    async def _process(self, delivery: Delivery) -> None:
        service = self.service
        try:
            message = JobMessage.decode(delivery.data)
        except ValueError as error:
            self.log.error("jobs.undecodable", error=str(error))
            await delivery.ack()
            return
        spec = service.catalog.get(message.name)
        if spec is None:
            await service.store.dead_letter(
                message, f"unknown job {message.name!r}: no registry of this worker declares it"
            )
            self.counters.dead_lettered += 1
            await self._settle(message)
            await delivery.ack()
            return
        tracer = service.tracer
        if tracer is None:
            await self._run(delivery, message, spec)
            return
        failure: BaseException | None = None
        try:
            with tracer.span(
                f"jobs.run {message.name}",
                {
                    "job.name": message.name,
                    "job.id": message.job_id,
                    "job.queue": message.queue,
                    "job.attempt": message.attempt,
                    "rainmaker.instance": service.instance,
                },
                kind="consumer",
                parent=message.trace_context,
            ) as span:
                outcome, failure = await self._run(delivery, message, spec)
                span.set_attribute("job.outcome", outcome)
                if failure is not None:
                    raise failure  # marks the span failed; the job is already settled
        except Exception as error:
            if error is not failure:
                raise

    async def _run(
        self, delivery: Delivery, message: JobMessage, spec: JobSpec
    ) -> tuple[str, Exception | None]:
        """Run one decoded job and settle its delivery; its outcome and the job's error."""
        service = self.service
        key = message.idempotency_key
        if key is not None and await service.store.is_done(key):
            self.counters.skipped += 1
            await self._settle(message)
            await delivery.ack()
            return "skipped", None
        token = bind_current_job(
            JobContext(
                message.job_id,
                message.name,
                message.attempt,
                message.queue,
                key,
                message.enqueued_datetime,
            )
        )
        began = time.perf_counter()
        try:
            async with asyncio.timeout(spec.timeout):
                await spec.func(*message.args, **message.kwargs)
        except Exception as error:
            reason = (
                f"timed out after {spec.timeout:g}s"
                if isinstance(error, TimeoutError) and spec.timeout is not None
                else f"{type(error).__name__}: {error}"
            )
            retried = await self._failed(delivery, message, spec.retry, reason)
            return ("retried" if retried else "dead_lettered"), error
        finally:
            bind_current_job(None)
            del token
        if key is not None:
            await service.store.mark_done(key, service.idempotency_ttl)
        await self._settle(message)
        await delivery.ack()
        self.counters.succeeded += 1
        self.log.debug(
            "jobs.succeeded",
            job=message.name,
            job_id=message.job_id,
            attempt=message.attempt,
            ms=round((time.perf_counter() - began) * 1000, 2),
        )
        return "succeeded", None

    async def _settle(self, message: JobMessage) -> None:
        """Tell the tracker a tracked job is done; a failure must not rerun the job, so it is
        logged (the row stays until its hold marker expires, then the job may rerun)."""
        if not message.tracked:
            return
        try:
            await self.service.settle(message)
        except Exception as error:
            self.log.warning("jobs.settle_failed", job_id=message.job_id, error=repr(error))

    async def _failed(
        self, delivery: Delivery, message: JobMessage, retry: Any, reason: str
    ) -> bool:
        """Retry or dead-letter a failed job; whether it was retried."""
        if message.attempt < retry.max_attempts:
            wait = retry.delay_after(message.attempt)
            await self.service.transport.send(message.next_attempt(), wait)
            await delivery.ack()
            self.counters.retried += 1
            self.log.warning(
                "jobs.retrying",
                job=message.name,
                job_id=message.job_id,
                attempt=message.attempt,
                retry_in_s=round(wait, 3),
                error=reason,
            )
            return True
        await self.service.store.dead_letter(message, reason)
        await self._settle(message)
        await delivery.ack()
        self.counters.dead_lettered += 1
        self.log.error(
            "jobs.dead_lettered",
            job=message.name,
            job_id=message.job_id,
            attempts=message.attempt,
            error=reason,
        )
        return False


async def _first(acquire: Any, stopping: asyncio.Task[Any]) -> bool:
    """Wait for a free slot; ``False`` when stopping came first (the slot is not taken)."""
    getter = asyncio.ensure_future(acquire)
    done, _ = await asyncio.wait({getter, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return True
    getter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await getter
    return False
