"""The ``Jobs`` capability: background work handed to a queue and run by workers."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability


@runtime_checkable
class JobQueue(Protocol):
    """Enqueue a named job with arguments; returns the job's id."""

    async def enqueue(
        self,
        job: str,
        *args: Any,
        delay: float | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> str: ...


Jobs: Capability[JobQueue] = Capability(
    "Jobs", JobQueue, description="Background jobs run by workers, never lost."
)
