"""The running module: a loop for the worker role and panels for the dashboard."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from rainmaker import WORKER_ROLE, DashboardPanel, Module, PanelTable, ProcessRole, RoleOptions
from tally_pattern.pattern import TallySettings


class TallyLoop:
    """Writes 'running' once, then waits until stopped and writes 'drained'."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.stopping = asyncio.Event()

    async def run(self, options: RoleOptions) -> None:
        self.marker.write_text(f"running concurrency={options.concurrency}\n")
        await self.stopping.wait()
        with self.marker.open("a") as out:
            out.write("drained\n")

    def stop(self) -> None:
        self.stopping.set()


class TallyModule(Module[TallySettings]):
    def process_roles(self) -> Mapping[str, ProcessRole]:
        return {WORKER_ROLE: TallyLoop(Path(self.settings.marker))}

    def dashboard_panels(self) -> Sequence[DashboardPanel]:
        async def read(limit: int) -> PanelTable:
            return PanelTable(("name", "count"), [("apples", "3"), ("pears", "5")][:limit])

        async def broken(limit: int) -> PanelTable:
            raise RuntimeError("the tally store is away")

        return [DashboardPanel("Tallies", read), DashboardPanel("Broken tallies", broken)]
