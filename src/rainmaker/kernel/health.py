"""Health model: each module reports up, degraded or down; the app aggregates.

Readiness is false while the app is not running or while any instance is down (degraded
still serves, e.g. a cache failing open). Liveness only says the process answers.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Status(enum.StrEnum):
    """How well a module is doing."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class Health:
    """What a module's ``health()`` returns: a status and free-form details."""

    status: Status
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def up(cls, **details: Any) -> Health:
        return cls(Status.UP, details)

    @classmethod
    def degraded(cls, **details: Any) -> Health:
        return cls(Status.DEGRADED, details)

    @classmethod
    def down(cls, **details: Any) -> Health:
        return cls(Status.DOWN, details)


@dataclass(frozen=True)
class InstanceHealth:
    """One instance's health as the kernel measured it."""

    instance: str
    pattern: str
    status: Status
    details: Mapping[str, Any]
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "status": self.status.value,
            "latency_ms": round(self.latency_ms, 3),
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class HealthReport:
    """Every instance's health plus the app's state, and the verdicts derived from them."""

    state: str
    instances: tuple[InstanceHealth, ...]

    @property
    def ready(self) -> bool:
        """Serving traffic makes sense: running, and nothing is down."""
        return self.state == "running" and all(
            item.status is not Status.DOWN for item in self.instances
        )

    @property
    def status(self) -> Status:
        """The worst status of any instance (down when the app is not running)."""
        if self.state != "running":
            return Status.DOWN
        statuses = {item.status for item in self.instances}
        for worst in (Status.DOWN, Status.DEGRADED):
            if worst in statuses:
                return worst
        return Status.UP

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "state": self.state,
            "ready": self.ready,
            "patterns": {item.instance: item.as_dict() for item in self.instances},
        }
