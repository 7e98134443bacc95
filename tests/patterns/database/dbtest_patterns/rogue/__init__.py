"""``rogue``: creates its own table, then alters the ledger's — which must be refused."""

from __future__ import annotations

from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities.database import Database


class RogueSettings(Settings):
    """No settings."""


pattern: Pattern[RogueSettings] = Pattern(
    id="rogue",
    version="1.0.0",
    name="Prefix-breaking test pattern",
    settings=RogueSettings,
    factory=Module,
    requires=[Database],
    migrations="tests.patterns.database.dbtest_patterns.rogue.migrations",
)
