"""The bodies of the health routes, as models: what the OpenAPI document declares for them.

The routes still answer with ready-made ``JSONResponse`` objects (no validation cost on a
path probes call every few seconds); these models only describe those bodies, and the
HTTP contract tests check each answer against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Liveness(BaseModel):
    """``/health/live``: the process answers."""

    status: Literal["alive"]


class Readiness(BaseModel):
    """``/health/ready``: whether to send traffic here (200 ready, 503 not)."""

    status: Literal["ready", "not_ready"]
    state: str = Field(description="The app's state: starting, running, draining, stopped.")
    down: list[str] | None = Field(None, description="The instances that are down.")


class InstanceStatus(BaseModel):
    """One pattern instance's health."""

    pattern: str
    status: Literal["up", "degraded", "down"]
    latency_ms: float
    details: dict[str, Any]


class HealthDetail(BaseModel):
    """``/health``: every instance's health (200 when ready, 503 when not)."""

    status: Literal["up", "degraded", "down"]
    state: str
    ready: bool
    patterns: dict[str, InstanceStatus]
