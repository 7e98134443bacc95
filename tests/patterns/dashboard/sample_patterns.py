"""Patterns the dashboard tests compose: one holding a secret, one providing ``Jobs``.

``queue-probe`` reports queue depths and failed jobs in its health details exactly as the
dashboard's jobs seam documents, so the seam is tested without the jobs patterns.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from rainmaker import Health, Module, Pattern, Settings
from rainmaker.capabilities import Database
from rainmaker.capabilities.jobs import Jobs

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
    """How many failed jobs the probe reports."""

    failures: int = Field(3, description="Failed jobs to report.")


class _Queue:
    async def enqueue(self, job: str, *args: Any, **kwargs: Any) -> str:
        return "1"


class QueueProbeModule(Module[QueueProbeSettings]):
    """Registers a queue and reports depths and failures in its health details."""

    async def start(self) -> None:
        self.ctx.services.register(Jobs, _Queue())

    async def health(self) -> Health:
        failed = [
            {
                "id": f"job-{n}",
                "job": "send_welcome",
                "error": f"SMTP refused with {SECRET}",
                "failed_at": f"2026-11-26T10:0{n}:00Z",
            }
            for n in range(self.settings.failures)
        ]
        return Health.up(queues={"default": 4, "emails": 0}, failed=failed)


queue_probe: Pattern[QueueProbeSettings] = Pattern(
    id="queue-probe",
    version="0.1.0",
    name="Queue probe",
    settings=QueueProbeSettings,
    factory=QueueProbeModule,
    provides=[Jobs],
)
