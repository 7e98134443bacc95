"""The bookkeeping every backend keeps beside its queue: dead letters, tick claims and
idempotency keys.

Two implementations: :mod:`~rainmaker.patterns.jobs.sql_store` (the app's database; used by
``jobs-local`` and ``jobs-rabbitmq``) and :mod:`~rainmaker.patterns.jobs.redis_store`
(``jobs-redis``, so it needs no database).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from rainmaker.capabilities.jobs import FailedJob
from rainmaker.patterns.jobs.messages import JobMessage


class JobStore(Protocol):
    """Dead letters, periodic tick claims and idempotency keys of one jobs instance."""

    @property
    def transactional(self) -> bool:
        """Whether writes join the caller's database transaction (and roll back with it)."""
        ...

    async def dead_letter(self, message: JobMessage, error: str) -> str:
        """Keep a job whose retries are exhausted; the dead letter's id."""
        ...

    async def failed(self, limit: int) -> list[FailedJob]:
        """Dead letters, newest first."""
        ...

    async def take_failed(self, failed_id: str) -> JobMessage | None:
        """Remove a dead letter and return its job, or ``None`` when there is none."""
        ...

    async def count_failed(self) -> int:
        """How many dead letters there are."""
        ...

    async def claim_tick(self, name: str, tick: datetime, owner: str) -> bool:
        """Whether ``owner`` is the first to claim periodic job ``name``'s ``tick``."""
        ...

    async def reserve_key(self, key: str, job_id: str, ttl: float) -> str | None:
        """Remember ``key`` for ``job_id``; the job id already holding it, if any."""
        ...

    async def mark_done(self, key: str, ttl: float) -> None:
        """Record that the job holding ``key`` ran to success."""
        ...

    async def is_done(self, key: str) -> bool:
        """Whether a job with ``key`` already ran to success."""
        ...
