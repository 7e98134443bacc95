"""Queue depths and recent failed jobs, read from the health of ``Jobs`` providers.

The seam for the jobs patterns: the dashboard does not know any queue library; it reads
two keys of the ``details`` a ``Jobs`` provider's ``health()`` returns, so a jobs pattern
shows up here by reporting them:

* ``queues``: a mapping of queue name to the number of jobs waiting in it;
* ``failed``: a list of the most recent failed jobs, newest first, each a mapping with
  ``id``, ``job`` (its name), ``error`` (one line) and ``failed_at`` (ISO 8601); extra keys
  are ignored.

Both are optional. Strings pass through the dashboard's secret scrubber like every other
health detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rainmaker.kernel.application import Application
from rainmaker.kernel.health import HealthReport

JOBS = "Jobs"
QUEUES_KEY = "queues"
FAILED_KEY = "failed"
FAILED_FIELDS = ("id", "job", "error", "failed_at")


@dataclass(frozen=True)
class JobsPanel:
    """What one ``Jobs`` provider reports."""

    instance: str
    pattern: str
    queues: dict[str, int] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    reports_queues: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "pattern": self.pattern,
            "queues": self.queues,
            "failed": self.failed,
            "reports_queues": self.reports_queues,
        }


def jobs_panels(application: Application, report: HealthReport, limit: int) -> list[JobsPanel]:
    """One panel per instance whose pattern provides ``Jobs``, from its health details."""
    providers = {
        instance.name
        for instance in application.instances.values()
        if any(p.capability.name == JOBS for p in instance.pattern.provisions)
    }
    panels = []
    for item in report.instances:
        if item.instance not in providers:
            continue
        details = item.details
        queues = details.get(QUEUES_KEY)
        failed = details.get(FAILED_KEY)
        panels.append(
            JobsPanel(
                instance=item.instance,
                pattern=item.pattern,
                queues=_queues(queues),
                failed=_failed(failed, limit),
                reports_queues=isinstance(queues, Mapping),
            )
        )
    return panels


def _queues(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    depths = {}
    for name, depth in value.items():
        try:
            depths[str(name)] = int(depth)
        except (TypeError, ValueError):
            continue  # a malformed entry must not break the page
    return dict(sorted(depths.items()))


def _failed(value: Any, limit: int) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple):
        return []
    rows = []
    for entry in value[:limit]:
        if isinstance(entry, Mapping):
            rows.append({key: str(entry.get(key, "")) for key in FAILED_FIELDS})
    return rows
