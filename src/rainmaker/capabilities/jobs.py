"""The ``Jobs`` capability: background work handed to a queue and run by workers, never lost.

A pattern (or the app) declares jobs in a :class:`JobRegistry` and hands the registry to the
running jobs service at start; the app enqueues them by name; ``rainmaker worker`` processes
run them with the same composition::

    from rainmaker.capabilities.jobs import JobRegistry, RetryPolicy, current_job

    jobs = JobRegistry()

    @jobs.job("billing.send_invoice", retry=RetryPolicy(max_attempts=5), timeout=60)
    async def send_invoice(invoice_id: int) -> None:
        key = current_job().idempotency_key   # use it to make the effect happen once
        ...

    @jobs.periodic("billing.nightly", cron="0 3 * * *")
    async def nightly() -> None: ...

    class BillingModule(Module[BillingSettings]):
        async def start(self) -> None:
            self.ctx.services.require(Jobs).register(jobs)

    await ctx.jobs.enqueue("billing.send_invoice", 42, delay=30, idempotency_key="inv-42")

An app lists its own registries in the jobs pattern's ``registries`` setting instead.

Semantics every provider honours (the contract suite in
:mod:`rainmaker.testing.contracts.jobs` checks them):

- Arguments are JSON values; anything else is refused at ``enqueue`` with
  :class:`~rainmaker.InvalidInputError`, as is a job name no registry declares.
- Inside ``ctx.database.transaction()`` enqueue is transactional: the job leaves only when
  the transaction commits and never when it rolls back.
- Delivery is at least once: a worker that dies mid-job leaves the job to another worker.
  ``idempotency_key`` makes enqueue deduplicate (the same key gives the same job id while
  the first job is pending or done) and a job whose key already ran is not run again.
- A job that raises (or exceeds its timeout) is retried with exponential backoff and
  jitter up to ``RetryPolicy.max_attempts``; then it goes to the dead-letter store, where
  ``failed()`` lists it and ``retry(id)`` enqueues it again.
- A periodic job runs once per cron tick however many workers run.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from rainmaker.kernel.capability import Capability

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

DEFAULT_QUEUE = "default"


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing job runs again and how long it waits in between.

    Attempt ``n`` (counting from 1) that fails waits
    ``min(max_backoff, backoff * 2 ** (n - 1))`` seconds before attempt ``n + 1``, of which
    a random share up to ``jitter`` is taken off so that jobs failing together do not
    retry in lockstep. After ``max_attempts`` attempts the job is dead-lettered.
    """

    max_attempts: int = 3
    backoff: float = 1.0
    max_backoff: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("RetryPolicy backoff values must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("RetryPolicy.jitter is a share between 0 and 1")

    def delay_after(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        base = min(self.max_backoff, self.backoff * 2 ** max(attempt - 1, 0))
        share = float((rng or random).random()) * self.jitter
        return float(base * (1 - share))


@dataclass(frozen=True)
class JobSpec:
    """One declared job: its name, function, retry policy, timeout, queue and schedule."""

    name: str
    func: Callable[..., Awaitable[Any]]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    queue: str = DEFAULT_QUEUE
    cron: str | None = None

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"job name {self.name!r} must be non-empty without spaces")
        if not inspect.iscoroutinefunction(self.func):
            raise TypeError(f"job {self.name}: {self.func!r} must be an `async def` function")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"job {self.name}: timeout must be positive")


class JobRegistry:
    """A named set of jobs a pattern or an app declares, handed to ``JobQueue.register``.

    Registries are plain objects: declaring jobs imports nothing heavy and does no I/O.
    """

    def __init__(self, specs: Sequence[JobSpec] = ()) -> None:
        self._specs: dict[str, JobSpec] = {}
        for spec in specs:
            self.add(spec)

    def add(self, spec: JobSpec) -> JobSpec:
        """Declare ``spec``; a second, different job under the same name is an error."""
        existing = self._specs.get(spec.name)
        if existing is not None and existing != spec:
            raise ValueError(f"job {spec.name!r} is declared twice")
        self._specs[spec.name] = spec
        return spec

    def job(
        self,
        name: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        queue: str = DEFAULT_QUEUE,
    ) -> Callable[[F], F]:
        """Decorator: declare an ``async def`` as a job (named after the function by default)."""
        return self._declarer(name, retry, timeout, queue, None)

    def periodic(
        self,
        name: str | None = None,
        *,
        cron: str,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        queue: str = DEFAULT_QUEUE,
    ) -> Callable[[F], F]:
        """Decorator: declare a job (taking no arguments) enqueued once per ``cron`` tick.

        ``cron`` is a croniter expression: five fields, or six with seconds last
        (``"* * * * * */10"``: every ten seconds).
        """
        return self._declarer(name, retry, timeout, queue, cron)

    def _declarer(
        self,
        name: str | None,
        retry: RetryPolicy | None,
        timeout: float | None,
        queue: str,
        cron: str | None,
    ) -> Callable[[F], F]:
        """The decorator behind :meth:`job` and :meth:`periodic`."""

        def declare(func: F) -> F:
            self.add(
                JobSpec(
                    name or f"{func.__module__}.{func.__qualname__}",
                    func,
                    retry or RetryPolicy(),
                    timeout,
                    queue,
                    cron,
                )
            )
            return func

        return declare

    def get(self, name: str) -> JobSpec | None:
        """The job called ``name``, or ``None``."""
        return self._specs.get(name)

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs


@dataclass(frozen=True)
class JobContext:
    """What a running job may know about itself (see :func:`current_job`)."""

    job_id: str
    name: str
    attempt: int
    queue: str
    idempotency_key: str | None
    enqueued_at: datetime


_current: ContextVar[JobContext | None] = ContextVar("rainmaker.jobs.current", default=None)


def current_job() -> JobContext:
    """The job this task runs; ``RuntimeError`` outside a job."""
    context = _current.get()
    if context is None:
        raise RuntimeError("current_job() is only available while a worker runs a job")
    return context


def bind_current_job(context: JobContext | None) -> Any:
    """Set the running job for this task (workers call it); returns a reset token."""
    return _current.set(context)


@dataclass(frozen=True)
class FailedJob:
    """A dead-lettered job: what ran, how often, and the last error."""

    id: str
    name: str
    queue: str
    args: Sequence[Any]
    kwargs: Mapping[str, Any]
    attempts: int
    error: str
    failed_at: datetime


@dataclass(frozen=True)
class QueueStats:
    """One queue's backlog: jobs waiting (ready or delayed) and the oldest one's age."""

    queue: str
    waiting: int
    delayed: int
    oldest_age: float | None


@runtime_checkable
class JobQueue(Protocol):
    """What a jobs provider offers (``ctx.jobs``)."""

    def register(self, registry: JobRegistry) -> None:
        """Make every job of ``registry`` known (call it in your module's ``start``)."""
        ...

    async def enqueue(
        self,
        job: str,
        *args: Any,
        delay: float | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Hand job ``job`` with JSON arguments to the queue; its id.

        ``delay`` seconds postpone the first run. Inside a database transaction the job
        leaves only on commit. Raises :class:`~rainmaker.InvalidInputError` for an unknown
        job or arguments that are not JSON values.
        """
        ...

    async def failed(self, limit: int = 100) -> list[FailedJob]:
        """Dead-lettered jobs, newest first."""
        ...

    async def retry(self, failed_id: str) -> str:
        """Enqueue a dead-lettered job again (its attempts start over); the new job id.

        Raises :class:`~rainmaker.NotFoundError` for an unknown id.
        """
        ...

    async def stats(self) -> list[QueueStats]:
        """The backlog of every known queue."""
        ...


Jobs: Capability[JobQueue] = Capability(
    "Jobs",
    JobQueue,
    version="1.0",
    description="Background jobs run by workers, never lost.",
)
