"""Patterns the dashboard tests compose: one holding a secret, one providing ``Jobs``.

``queue-probe`` is a ``JobQueue`` with fixed failed jobs that contributes the jobs patterns'
dashboard panels (``queue_panels``), so the dashboard's panels are tested without a broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, SecretStr

from rainmaker import DashboardPanel, Health, Module, Pattern, Settings
from rainmaker.capabilities import Database
from rainmaker.capabilities.jobs import FailedJob, JobRegistry, Jobs, QueueStats
from rainmaker.patterns.jobs.dashboard_panels import queue_panels

SECRET = "greeter-secret-value-0123456789"


class GreeterSettings(Settings):
    """Holds a secret the dashboard must never send."""

    api_key: SecretStr = Field(description="A secret.")


class GreeterModule(Module[GreeterSettings]):
    """Degraded, and its health detail quotes its secret (a careless pattern)."""

    async def health(self) -> Health:
        return Health.degraded(note=f"calling with {self.settings.api_key.get_secret_value()}")


greeter: Pattern[GreeterSettings] = Pattern(
    id="greeter",
    version="1.2.0",
    name="Greeter",
    settings=GreeterSettings,
    factory=GreeterModule,
    requires=[Database],
)


class QueueProbeSettings(Settings):
    """How many failed jobs the probe holds."""

    failures: int = Field(3, description="Failed jobs to report.")


class _Queue:
    """A ``JobQueue`` that runs nothing and holds a fixed list of failed jobs."""

    def __init__(self, failures: int) -> None:
        self._failed = [
            FailedJob(
                id=f"job-{n}",
                name="send_welcome",
                queue="emails",
                args=(n,),
                kwargs={},
                attempts=5,
                error=f"SMTP refused with {SECRET}",
                failed_at=datetime(2026, 11, 26, 10, n, tzinfo=UTC),
            )
            for n in range(failures)
        ]

    def register(self, registry: JobRegistry) -> None:
        pass

    async def enqueue(
        self,
        job: str,
        *args: Any,
        delay: float | None = None,
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> str:
        return idempotency_key or job

    async def failed(self, limit: int = 100) -> list[FailedJob]:
        return self._failed[:limit]

    async def retry(self, failed_id: str) -> str:
        return failed_id

    async def stats(self) -> list[QueueStats]:
        return [QueueStats("default", 4, 1, 2.5), QueueStats("emails", 0, 0, None)]


class QueueProbeModule(Module[QueueProbeSettings]):
    """Registers the queue; its health reports depths as the jobs patterns do."""

    async def start(self) -> None:
        self.queue = _Queue(self.settings.failures)
        self.ctx.services.register(Jobs, self.queue)

    def dashboard_panels(self) -> Sequence[DashboardPanel]:
        async def dead_letters() -> int:
            return len(await self.queue.failed())

        return queue_panels(self.ctx.instance, lambda: getattr(self, "queue", None), dead_letters)

    async def health(self) -> Health:
        queues = {
            s.queue: {"waiting": s.waiting, "delayed": s.delayed, "oldest_age_s": s.oldest_age}
            for s in await self.queue.stats()
        }
        return Health.up(queues=queues, dead_letters=len(await self.queue.failed()))


queue_probe: Pattern[QueueProbeSettings] = Pattern(
    id="queue-probe",
    version="0.1.0",
    name="Queue probe",
    settings=QueueProbeSettings,
    factory=QueueProbeModule,
    provides=[Jobs],
)
