"""Outbox messages claimed by a relay that died go to another relay after ``outbox_lease``
(issue 22, finding 6: the lease was a fixed 60 s, not a setting).

A relay claims messages (the lease is written) and then dies without handing them on,
as a killed process would; with ``outbox_lease = 1`` the next relay hands them on a second
later instead of a minute. SQLite in tmp, no server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.database import Database
from rainmaker.testing.harness import build_app

pytestmark = pytest.mark.asyncio


async def test_a_dead_relays_claim_expires_after_the_lease_setting(tmp_path: Path) -> None:
    patterns = {
        "db": {
            "use": "database-sqlite",
            "path": str(tmp_path / "app.db"),
            "outbox_poll_interval": 0,
            "outbox_lease": 1.0,
        }
    }
    app = build_app(patterns, root=tmp_path, name="lease")
    handled: list[Any] = []

    async def handler(message: Any) -> None:
        handled.append(message.payload)

    async with app.running():
        database = app.services.require(Database)
        outbox: Any = database.outbox
        # Written before the topic has a handler, so the relay woken by the commit passes
        # it by; with outbox_poll_interval 0 nothing wakes the relay again.
        async with database.transaction():
            await outbox.add("proof.lease", {"n": 2})
        await asyncio.sleep(0.2)
        outbox.handle("proof.lease", handler)
        # The dying relay: its claim is written, then it is gone before handing anything on.
        claimed = await outbox._claim(100)
        assert [m.payload for m in claimed] == [{"n": 2}]
        assert await outbox.relay() == 0  # held by the dead relay's lease
        await asyncio.sleep(1.3)
        assert await outbox.relay() == 1
        assert handled == [{"n": 2}]
