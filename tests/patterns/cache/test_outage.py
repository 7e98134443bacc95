"""The outage breaker behind fail_open: rate-limited logs and when Redis is probed again."""

from __future__ import annotations

import asyncio

import structlog
from structlog.testing import capture_logs

from rainmaker.patterns.cache.outage import Outage


async def test_an_outage_logs_once_then_reminds_then_recovers() -> None:
    outage = Outage("127.0.0.1:1", structlog.get_logger(), retry_interval=0.1, log_interval=0.2)
    with capture_logs() as logs:
        for _ in range(100):
            outage.failed(ConnectionRefusedError("refused"), "get")
        assert outage.down and outage.circuit_open()
        await asyncio.sleep(0.25)
        assert not outage.circuit_open()  # time to probe the server again
        outage.failed(ConnectionRefusedError("refused"), "set")
        outage.recovered()
        outage.recovered()  # already up: says nothing
    events = [(entry["event"], entry.get("failed_operations")) for entry in logs]
    assert events == [
        ("cache.unavailable", None),
        ("cache.still_unavailable", 101),
        ("cache.recovered", 101),
    ]
    assert logs[0]["endpoint"] == "127.0.0.1:1" and "refused" in logs[0]["error"]
    assert not outage.down and outage.failures == 0
