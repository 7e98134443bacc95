"""``proofkit``: a tiny pattern composed beside the demo SaaS by the proof tests only.

It gives the tests something to count: ``POST /proofkit/notes`` commits a note and enqueues
a job recording it in the same transaction; ``POST /proofkit/batch`` enqueues N jobs at
once; a periodic job records every tick it runs for. Every run is a row in
``proofkit_runs``, so "each job runs once" is a ``GROUP BY``.
"""

from __future__ import annotations

from pydantic import Field

from rainmaker import Pattern, Settings
from rainmaker.capabilities import Database, Jobs


class ProofkitSettings(Settings):
    """How often the periodic job ticks."""

    tick_cron: str = Field("* * * * * *", description="Cron of the periodic job (seconds last).")


pattern: Pattern[ProofkitSettings] = Pattern(
    id="proofkit",
    version="0.1.0",
    name="Proof kit",
    description="Counts job runs and committed notes for the proof tests.",
    settings=ProofkitSettings,
    factory="proofkit.module:ProofkitModule",
    requires=[Database, Jobs],
    mount="/proofkit",
    migrations="proofkit.migrations",
    table_prefix="proofkit_",
    examples=[{}],
)
