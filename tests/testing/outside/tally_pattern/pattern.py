"""Declaration: a table of its own, a worker loop and a command group."""

from __future__ import annotations

from pydantic import Field

from rainmaker import Pattern, Settings
from rainmaker.capabilities import Database


class TallySettings(Settings):
    marker: str = Field("tally.log", description="File the worker loop writes to.")


tally = Pattern(
    id="tally",
    version="0.1.0",
    name="Tally",
    settings=TallySettings,
    factory="tally_pattern.module:TallyModule",
    requires=[Database],
    migrations="tally_pattern.migrations",
    table_prefix="tally_",
    examples=[{"marker": "tally.log"}],
)
