"""The running jobs modules: connect the broker, register ``Jobs``, run workers on demand.

``start`` connects the backend (failing with its address when it cannot be reached),
builds the :class:`~rainmaker.patterns.jobs.service.JobService`, loads the registries named
in settings and registers the service as ``Jobs``; patterns that require ``Jobs`` start
after it and add their registries with ``ctx.jobs.register()``. Running jobs is a process
role: ``rainmaker worker`` starts the whole app, then runs the loop this module
contributes to the ``worker`` role (:meth:`JobsModule.process_roles`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from rainmaker import (
    WORKER_ROLE,
    DashboardPanel,
    Health,
    Module,
    ProcessRole,
    StartupError,
    UnavailableError,
)
from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.capabilities.jobs import Jobs
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.jobs.dashboard_panels import queue_panels
from rainmaker.patterns.jobs.settings import (
    JobsSettings,
    LocalJobsSettings,
    RabbitMqJobsSettings,
    RedisJobsSettings,
    check_queue_name,
)
from rainmaker.patterns.jobs.worker_role import JobsWorkerRole

if TYPE_CHECKING:
    from rainmaker.patterns.jobs.service import JobService
    from rainmaker.patterns.jobs.store import JobStore
    from rainmaker.patterns.jobs.tracked import Reconciler, TrackedJobs
    from rainmaker.patterns.jobs.transport import Transport
    from rainmaker.patterns.jobs.worker import Worker, WorkerCounters

S = TypeVar("S", bound=JobsSettings)


def worker_identity() -> str:
    """``host:pid:random``: names this process in leases, consumer groups and tick claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobsModule(Module[S], ABC):
    """What the three backends share; subclasses build their transport and store.

    An ABC so that a backend missing ``_backend`` fails when the kernel constructs it
    (``rainmaker plan`` included), not at start.
    """

    service: JobService | None = None
    worker: Worker | None = None

    @abstractmethod
    def _backend(self, owner: str) -> tuple[Transport, JobStore]:
        """Build (without connecting) this backend's transport and bookkeeping store."""

    def _tracker(self, transport: Transport, database: SqlDatabase) -> TrackedJobs | None:
        """Backends whose broker may lose committed jobs keep them in the database."""
        return None

    async def _durability_problems(self, transport: Transport) -> dict[str, Any]:
        """Health details about what the broker keeps; ``problems`` make health degraded."""
        return {}

    def _reconciler(self) -> Reconciler | None:
        """The periodic task that sends lost tracked jobs again, where there is one."""
        return None

    @property
    def database(self) -> SqlDatabase | None:
        """The database this instance is bound to, when one is composed."""
        return self.ctx.services.get(Database)

    async def start(self) -> None:
        # Heavy imports (taskiq, SQLAlchemy, broker clients) happen here, not at listing.
        from rainmaker.patterns.jobs.outbox_bridge import OutboxBridge
        from rainmaker.patterns.jobs.registry import JobCatalog, load_registry
        from rainmaker.patterns.jobs.service import JobService

        self.owner = worker_identity()
        tracer = self.ctx.services.get(Tracing)
        catalog = JobCatalog(self.ctx.instance)
        for path in self.settings.registries:
            catalog.register(load_registry(path, instance=self.ctx.instance))
        transport, store = self._backend(self.owner)
        try:
            await transport.start()
        except UnavailableError as error:
            raise UnavailableError(
                f"cannot connect to the job broker: {error.message}",
                pattern_id=self.ctx.instance,
                hint=error.hint,
                cause=error.cause,
            ) from error
        database = self.database
        bridge = None
        if database is not None and not transport.transactional:
            bridge = OutboxBridge(
                database,
                transport,
                store,
                instance=self.ctx.instance,
                idempotency_ttl=self.settings.idempotency_ttl,
                tracker=self._tracker(transport, database),
            )
        self.service = JobService(
            instance=self.ctx.instance,
            transport=transport,
            store=store,
            catalog=catalog,
            queues=list(self.settings.queues),
            idempotency_ttl=self.settings.idempotency_ttl,
            database=database,
            bridge=bridge,
            tracer=tracer if tracer is not None and tracer.enabled else None,
        )
        self.ctx.services.register(Jobs, self.service)
        self.ctx.on_shutdown(self.stop_working)
        self.ctx.log.info("jobs.started", endpoint=transport.endpoint)
        durability = await self._durability_problems(transport)
        if durability.get("problems"):
            self.ctx.log.warning(
                "jobs.broker_may_lose_jobs", endpoint=transport.endpoint, **durability
            )

    async def stop(self) -> None:
        self.stop_working()
        if self.service is not None:
            service, self.service = self.service, None
            await service.transport.stop()

    async def work(
        self, *, queues: Sequence[str] | None = None, concurrency: int | None = None
    ) -> WorkerCounters:
        """Run jobs (and, with ``scheduler`` on, periodic ticks) until :meth:`stop_working`."""
        from rainmaker.patterns.jobs.scheduler import Scheduler, check_cron
        from rainmaker.patterns.jobs.worker import Worker

        service = self.service
        if service is None:
            raise StartupError(
                "start the app before running a worker", pattern_id=self.ctx.instance
            )
        chosen = list(queues or self.settings.queues)
        for name in chosen:
            check_queue_name(name)
        for spec in service.catalog.periodic():
            assert spec.cron is not None
            try:
                check_cron(spec.cron)
            except ValueError as error:
                raise StartupError(
                    f"periodic job {spec.name}: {error}", pattern_id=self.ctx.instance
                ) from error
        self.worker = Worker(
            service,
            queues=chosen,
            concurrency=concurrency or self.settings.concurrency,
            drain_timeout=self.settings.drain_timeout,
            visibility_timeout=self.settings.visibility_timeout,
            log=self.ctx.log,
        )
        background: list[asyncio.Task[None]] = []
        if self.settings.scheduler:
            background.append(
                asyncio.create_task(
                    Scheduler(service, owner=self.owner, log=self.ctx.log).run(),
                    name="rainmaker.jobs.scheduler",
                )
            )
        reconciler = self._reconciler()
        if reconciler is not None:
            background.append(
                asyncio.create_task(reconciler.run(), name="rainmaker.jobs.reconciler")
            )
        try:
            return await self.worker.run()
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def dashboard_panels(self) -> Sequence[DashboardPanel]:
        """Backlog and recent failed jobs, read from the running service."""

        async def dead_letters() -> int:
            assert self.service is not None
            return await self.service.store.count_failed()

        return queue_panels(self.ctx.instance, lambda: self.service, dead_letters)

    def process_roles(self) -> Mapping[str, ProcessRole]:
        """``rainmaker worker`` runs this instance's jobs."""
        return {WORKER_ROLE: JobsWorkerRole(self)}

    def stop_working(self) -> None:
        """Ask a running worker to stop taking jobs and drain (idempotent)."""
        if self.worker is not None:
            self.worker.stop()

    async def health(self) -> Health:
        """Broker round trip, backlog per queue and dead letters; down when unreachable."""
        service = self.service
        if service is None:
            return Health.down(reason="not started")
        transport = service.transport
        details: dict[str, Any] = {"endpoint": transport.endpoint}
        try:
            latency = await transport.ping()
            stats = await service.stats()
        except UnavailableError as error:
            return Health.down(reason=error.message, **details)
        details["latency_ms"] = round(latency, 3)
        details["queues"] = {
            s.queue: {
                "waiting": s.waiting,
                "delayed": s.delayed,
                "oldest_age_s": None if s.oldest_age is None else round(s.oldest_age, 3),
            }
            for s in stats
        }
        with contextlib.suppress(Exception):
            details["dead_letters"] = await service.store.count_failed()
        with contextlib.suppress(Exception):
            tracked = await service.tracked()
            if tracked is not None:
                details["tracked"] = tracked
        durability = await self._durability_problems(transport)
        if durability:
            details["durability"] = durability
        if self.worker is not None:
            counters = self.worker.counters
            details["in_flight"] = self.worker.in_flight
            details["outcomes"] = {
                "succeeded": counters.succeeded,
                "retried": counters.retried,
                "dead_lettered": counters.dead_lettered,
                "skipped": counters.skipped,
                "released": counters.released,
            }
        if durability.get("problems"):
            return Health.degraded(reason="the broker can lose queued jobs silently", **details)
        return Health.up(**details)


class LocalJobsModule(JobsModule[LocalJobsSettings]):
    """``jobs-local``: the queue in the app's database."""

    def _backend(self, owner: str) -> tuple[Transport, JobStore]:
        from rainmaker.patterns.jobs.local import LocalBroker, LocalTransport
        from rainmaker.patterns.jobs.sql_store import SqlJobStore

        database = self.ctx.services.require(Database)
        broker = LocalBroker(
            database,
            owner=owner,
            lease=self.settings.visibility_timeout,
            poll_interval=self.settings.poll_interval,
            queues=self.settings.queues,
        )
        return LocalTransport(broker), SqlJobStore(database)


class RedisJobsModule(JobsModule[RedisJobsSettings]):
    """``jobs-redis``: Redis streams; bookkeeping in Redis too. With a database, jobs
    enqueued in a transaction are also tracked there until settled (see ``tracked``)."""

    tracked: TrackedJobs | None = None

    def _backend(self, owner: str) -> tuple[Transport, JobStore]:
        from rainmaker.patterns.jobs.redis import RedisTransport
        from rainmaker.patterns.jobs.redis_store import RedisJobStore

        settings = self.settings
        prefix = settings.key_prefix or f"{self.ctx.config.name}.jobs"
        transport = RedisTransport(
            settings.url,
            prefix=prefix,
            consumer=owner,
            visibility_timeout=settings.visibility_timeout,
            connect_timeout=settings.connect_timeout,
            password=settings.password.get_secret_value() if settings.password else None,
            log=self.ctx.log,
        )
        return transport, RedisJobStore(transport.redis, prefix)

    def _tracker(self, transport: Transport, database: SqlDatabase) -> TrackedJobs | None:
        from rainmaker.patterns.jobs.redis import RedisTransport
        from rainmaker.patterns.jobs.tracked import TrackedJobs

        assert isinstance(transport, RedisTransport)
        # A marker outlives the idempotency key by nothing: after that a rerun is no
        # longer deduplicated anyway.
        self.tracked = TrackedJobs(database, transport, marker_ttl=self.settings.idempotency_ttl)
        return self.tracked

    def _reconciler(self) -> Reconciler | None:
        from rainmaker.patterns.jobs.tracked import Reconciler

        if self.tracked is None:
            return None
        return Reconciler(self.tracked, after=self.settings.reconcile_after, log=self.ctx.log)

    async def _durability_problems(self, transport: Transport) -> dict[str, Any]:
        from rainmaker.patterns.jobs.redis import RedisTransport

        assert isinstance(transport, RedisTransport)
        try:
            return (await transport.durability()).details()
        except Exception as error:  # the outage itself is reported by ping
            return {"error": repr(error)}


class RabbitMqJobsModule(JobsModule[RabbitMqJobsSettings]):
    """``jobs-rabbitmq``: RabbitMQ queues; bookkeeping in the app's database."""

    def _backend(self, owner: str) -> tuple[Transport, JobStore]:
        from rainmaker.patterns.jobs.rabbitmq import RabbitMqTransport
        from rainmaker.patterns.jobs.sql_store import SqlJobStore

        settings = self.settings
        transport = RabbitMqTransport(
            settings.url,
            exchange=settings.exchange or f"{self.ctx.config.name}.jobs",
            first_queue=settings.queues[0],
            connect_timeout=settings.connect_timeout,
            password=settings.password.get_secret_value() if settings.password else None,
            log=self.ctx.log,
        )
        return transport, SqlJobStore(self.ctx.services.require(Database))
