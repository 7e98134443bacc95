"""The jobs patterns' panels on the developer dashboard: backlog and recent failed jobs.

The dashboard knows no jobs pattern: it shows what modules contribute through
``Module.dashboard_panels()``. These panels read the public ``JobQueue`` interface only, so
any jobs provider can contribute the same two panels with :func:`queue_panels`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rainmaker import DashboardPanel, PanelTable
from rainmaker.capabilities import JobQueue

BACKLOG_COLUMNS = ("queue", "waiting", "delayed", "oldest waiting (s)")
FAILED_COLUMNS = ("id", "job", "queue", "attempts", "error", "failed at")


def queue_panels(
    instance: str,
    queue: Callable[[], JobQueue | None],
    dead_letters: Callable[[], Awaitable[int]] | None = None,
) -> list[DashboardPanel]:
    """The backlog and failed-jobs panels of one jobs instance.

    ``queue()`` gives the running service (``None`` before start); ``dead_letters()``, when
    given, counts every dead letter (the table shows only the newest ``limit``).
    """

    def running() -> JobQueue:
        service = queue()
        if service is None:
            raise RuntimeError("the jobs instance is not running")
        return service

    async def backlog(limit: int) -> PanelTable:
        stats = await running().stats()
        rows = [
            (
                item.queue,
                str(item.waiting),
                str(item.delayed),
                "-" if item.oldest_age is None else f"{item.oldest_age:.1f}",
            )
            for item in stats[:limit]
        ]
        return PanelTable(BACKLOG_COLUMNS, rows, note="" if rows else "no queues")

    async def failed(limit: int) -> PanelTable:
        jobs = await running().failed(limit) if limit else []
        rows = [
            (
                job.id,
                job.name,
                job.queue,
                str(job.attempts),
                job.error,
                job.failed_at.isoformat(),
            )
            for job in list(jobs)[:limit]
        ]
        note = f"{await dead_letters()} dead letters" if dead_letters is not None else ""
        return PanelTable(FAILED_COLUMNS, rows, note=note or ("" if rows else "none"))

    return [
        DashboardPanel(f"Jobs: {instance} backlog", backlog),
        DashboardPanel(f"Jobs: {instance} failed jobs", failed),
    ]
