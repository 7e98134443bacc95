"""Periodic jobs: every worker follows the cron schedules; each tick runs once.

Every worker with ``scheduler`` on computes the next tick of each periodic job (croniter)
and, when it comes, tries to claim it in the store (a ``jobs_ticks`` row keyed by job and
tick, or ``SET NX`` on Redis). Only the worker whose claim succeeds enqueues the job, with
the idempotency key ``cron:<job>:<tick>``, so several workers never double a run. Ticks
that pass while no worker runs are skipped, not made up.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]

from rainmaker.capabilities.jobs import JobSpec
from rainmaker.patterns.jobs.messages import JobMessage, new_job_id
from rainmaker.patterns.jobs.service import JobService


def check_cron(expression: str) -> None:
    """``ValueError`` when ``expression`` is not a croniter expression."""
    if not croniter.is_valid(expression):
        raise ValueError(f"{expression!r} is not a valid cron expression")


class Scheduler:
    """Enqueues the periodic jobs of ``service`` once per tick across all workers."""

    def __init__(self, service: JobService, *, owner: str, log: Any) -> None:
        self.service = service
        self.owner = owner
        self.log = log
        self.enqueued = 0

    async def run(self) -> None:
        """Follow every periodic job's schedule until cancelled."""
        specs = self.service.catalog.periodic()
        if not specs:
            return
        now = datetime.now(UTC)
        schedules = {spec.name: croniter(spec.cron, now) for spec in specs}
        upcoming = {name: schedule.get_next(datetime) for name, schedule in schedules.items()}
        by_name = {spec.name: spec for spec in specs}
        while True:
            name = min(upcoming, key=lambda n: upcoming[n])
            tick = upcoming[name]
            wait = (tick - datetime.now(UTC)).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            upcoming[name] = schedules[name].get_next(datetime)
            try:
                await self._fire(by_name[name], tick)
            except Exception as error:  # a broker or database outage: try the next tick
                self.log.warning(
                    "jobs.tick_failed", job=name, tick=tick.isoformat(), error=repr(error)
                )

    async def _fire(self, spec: JobSpec, tick: datetime) -> None:
        if not await self.service.store.claim_tick(spec.name, tick, self.owner):
            return
        message = JobMessage(
            job_id=new_job_id(),
            name=spec.name,
            queue=spec.queue,
            args=[],
            kwargs={},
            idempotency_key=f"cron:{spec.name}:{tick.isoformat()}",
        )
        await self.service.submit(message)
        self.enqueued += 1
        self.log.debug("jobs.tick", job=spec.name, tick=tick.isoformat())
