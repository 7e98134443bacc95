"""Profile the running process for a few seconds, by pattern (development only).

``POST <operator.path>/profile?seconds=N`` samples this process with pyinstrument for N
seconds while whatever traffic it gets runs (the developer's own clicks, a load they
drive), then answers the time by pattern instance, as ``rainmaker profile`` prints it
(:class:`rainmaker.ProfileOwners` charges each frame to the innermost pattern on its
stack). ``GET <operator.path>/profile.html`` serves pyinstrument's report of the last run,
and the dashboard's "Profile" panel shows its table.

Development only, one run at a time: the sampler slows every request while it runs and a
report shows source paths and function names.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from rainmaker import AppContext, ConflictError, ForbiddenError, ProfileOwners

INTERVAL = 0.001  # seconds between samples: pyinstrument's default
MAX_SECONDS = 60.0


@dataclass(frozen=True)
class ProcessProfile:
    """One finished run: when, how long, the time per owner and pyinstrument's HTML."""

    finished_at: float
    seconds: float
    sampled: float
    by_owner: dict[str, float]
    patterns: dict[str, str]
    html: str

    def rows(self) -> list[dict[str, Any]]:
        total = self.sampled or 1.0
        rows = []
        for owner, seconds in ProfileOwners.ranked(self.by_owner):
            names = owner.split(", ")
            pattern = ", ".join(sorted({self.patterns[n] for n in names if n in self.patterns}))
            rows.append(
                {
                    "owner": owner,
                    "pattern": pattern or None,
                    "seconds": round(seconds, 4),
                    "share": round(seconds / total, 4),
                }
            )
        return rows

    def as_dict(self, html_path: str) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "sampled_seconds": round(self.sampled, 4),
            "by_owner": self.rows(),
            "html": html_path,
        }


class ProcessProfiler:
    """Runs one profile at a time and keeps the last (see the module docstring)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.last: ProcessProfile | None = None
        self._running = False

    async def run(self, seconds: float) -> ProcessProfile:
        if self.ctx.env != "development":
            raise ForbiddenError(
                "profiling the running process is for the development profile only: the "
                f"sampler slows every request (profile {self.ctx.env!r})",
                pattern_id=self.ctx.instance,
                hint="profile a copy with `rainmaker profile --app PATH --profile ...`",
            )
        if self._running:
            raise ConflictError(
                "a profile of this process is running already; wait for it to finish",
                pattern_id=self.ctx.instance,
            )
        from pyinstrument import Profiler

        self._running = True
        try:
            app = self.ctx.app
            owners = ProfileOwners.of(app.instances.values(), app.root)
            # async_mode "disabled": sample the thread whatever task runs, so every
            # concurrent request is in the profile, not this waiting handler's task only.
            profiler = Profiler(interval=INTERVAL, async_mode="disabled")
            profiler.start()
            try:
                await asyncio.sleep(seconds)
            finally:
                session = profiler.stop()
            root = session.root_frame()
            by_owner, sampled = owners.attribute(root) if root is not None else ({}, 0.0)
            self.last = ProcessProfile(
                finished_at=time.time(),
                seconds=seconds,
                sampled=sampled,
                by_owner=by_owner,
                patterns={name: i.pattern.id for name, i in app.instances.items()},
                html=profiler.output_html(),
            )
            self.ctx.log.info("operator.profiled", seconds=seconds, sampled=round(sampled, 3))
            return self.last
        finally:
            self._running = False
