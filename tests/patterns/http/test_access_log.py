"""The access log: one structured event per request, cheap, and following the log config."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import structlog

from rainmaker.kernel.logging import configure_logging


def _events(text: str, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line]
    return [line for line in lines if line["event"] == name]


async def test_one_event_per_request_with_every_field(serve: Any) -> None:
    client = await serve()
    response = await client.get("/api/items/7?q=1", headers={"X-Request-ID": "abc-1"})
    (event,) = _events(client.logs.getvalue(), "http.request")
    assert event["method"] == "GET" and event["path"] == "/api/items/7"
    assert event["status"] == response.status_code == 200
    assert isinstance(event["duration_ms"], float) and event["duration_ms"] >= 0
    assert event["request_id"] == "abc-1"
    assert event["level"] == "info" and event["instance"] == "http"
    assert event["timestamp"].endswith("Z") and len(event["timestamp"]) == 27


async def test_a_secret_in_the_path_is_scrubbed(serve: Any) -> None:
    client = await serve(items='api_token = "tok-zz9-plural-z-alpha"')
    await client.get("/api/items/x-tok-zz9-plural-z-alpha-y")
    assert "tok-zz9-plural-z-alpha" not in client.logs.getvalue()
    paths = [e["path"] for e in _events(client.logs.getvalue(), "http.request")]
    assert paths == ["/api/items/x-********-y"]


async def test_the_access_log_follows_a_new_logging_configuration(serve: Any) -> None:
    client = await serve()
    await client.get("/api/items/1")
    later = io.StringIO()
    real_stderr, sys.stderr = sys.stderr, later
    try:
        configure_logging(fmt="json")
    finally:
        sys.stderr = real_stderr
    await client.get("/api/items/2")
    assert [e["path"] for e in _events(later.getvalue(), "http.request")] == ["/api/items/2"]
    with structlog.testing.capture_logs() as captured:
        await client.get("/api/items/3")
    assert [e["path"] for e in captured if e["event"] == "http.request"] == ["/api/items/3"]
