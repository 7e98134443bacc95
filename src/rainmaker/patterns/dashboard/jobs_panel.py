"""Queue depths and recent failed jobs of every ``Jobs`` provider.

Two sources, so a jobs pattern shows up here whatever it implements:

* **queue depths** come from the ``queues`` key of the provider's health details, as the
  built-in jobs patterns report it: queue name to ``{"waiting": n, "delayed": m, ...}``
  (a plain number is read as ``waiting``); ``dead_letters`` (a count) is shown too;
* **failed jobs** come from the registered service's ``failed(limit)`` (the ``JobQueue``
  interface: :class:`~rainmaker.capabilities.jobs.FailedJob` items, newest first) when it
  has one; otherwise from a ``failed`` list in the health details, each a mapping with
  ``id``, ``job``, ``error`` and ``failed_at``.

Every string passes through the dashboard's secret scrubber (a failed job's error may quote
its arguments).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rainmaker import AppView, HealthReport

JOBS = "Jobs"
QUEUES_KEY = "queues"
FAILED_KEY = "failed"
DEAD_LETTERS_KEY = "dead_letters"
FAILED_FIELDS = ("id", "job", "queue", "attempts", "error", "failed_at")


@dataclass(frozen=True)
class JobsPanel:
    """What one ``Jobs`` provider reports."""

    instance: str
    pattern: str
    queues: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    reports_queues: bool = False
    dead_letters: int | None = None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "pattern": self.pattern,
            "queues": self.queues,
            "failed": self.failed,
            "reports_queues": self.reports_queues,
            "dead_letters": self.dead_letters,
            "problem": self.problem,
        }


async def jobs_panels(
    application: AppView, report: HealthReport, limit: int, timeout: float
) -> list[JobsPanel]:
    """One panel per instance whose pattern provides ``Jobs``, in start order."""
    providers = {
        instance.name
        for instance in application.instances.values()
        if any(p.capability.name == JOBS for p in instance.pattern.provisions)
    }
    services = _services(application)
    panels = []
    for item in report.instances:
        if item.instance not in providers:
            continue
        details = item.details
        queues = details.get(QUEUES_KEY)
        dead = details.get(DEAD_LETTERS_KEY)
        failed, problem = await _failed(services.get(item.instance), details, limit, timeout)
        panels.append(
            JobsPanel(
                instance=item.instance,
                pattern=item.pattern,
                queues=_queues(queues),
                failed=failed,
                reports_queues=isinstance(queues, Mapping),
                dead_letters=dead if isinstance(dead, int) else None,
                problem=problem,
            )
        )
    return panels


def _services(application: AppView) -> Mapping[str, Any]:
    for instance in application.instances.values():
        for provision in instance.pattern.provisions:
            if provision.capability.name == JOBS:
                return application.providers(provision.capability)
    return {}


def _queues(value: Any) -> dict[str, dict[str, int]]:
    if not isinstance(value, Mapping):
        return {}
    depths: dict[str, dict[str, int]] = {}
    for name, depth in value.items():
        counts = depth if isinstance(depth, Mapping) else {"waiting": depth}
        row = {}
        for key in ("waiting", "delayed"):
            if isinstance(counts.get(key), int):
                row[key] = int(counts[key])
        depths[str(name)] = row  # a malformed entry shows as empty, never breaks the page
    return dict(sorted(depths.items()))


async def _failed(
    service: Any, details: Mapping[str, Any], limit: int, timeout: float
) -> tuple[list[dict[str, str]], str]:
    if limit == 0:
        return [], ""
    read = getattr(service, FAILED_KEY, None)
    if callable(read):
        try:
            items = await asyncio.wait_for(read(limit), timeout)
        except Exception as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}"
            return [], f"failed jobs could not be read: {reason}"
        return [_from_failed_job(item) for item in list(items)[:limit]], ""
    listed = details.get(FAILED_KEY)
    if not isinstance(listed, list | tuple):
        return [], ""
    return [
        {key: str(entry.get(key, "")) for key in FAILED_FIELDS}
        for entry in listed[:limit]
        if isinstance(entry, Mapping)
    ], ""


def _from_failed_job(item: Any) -> dict[str, str]:
    failed_at = getattr(item, "failed_at", "")
    return {
        "id": str(getattr(item, "id", "")),
        "job": str(getattr(item, "name", "")),
        "queue": str(getattr(item, "queue", "")),
        "attempts": str(getattr(item, "attempts", "")),
        "error": str(getattr(item, "error", "")),
        "failed_at": failed_at.isoformat() if hasattr(failed_at, "isoformat") else str(failed_at),
    }
