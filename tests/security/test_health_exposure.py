"""``/health`` detail shows file paths, pool sizes and queue depths: by default it is served
only to this machine, while readiness stays a bare public status (issue 19, finding 14)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.testing.harness import build_app

Open = Callable[..., Any]


@pytest.fixture
def serve(tmp_path: Path) -> Open:
    """``async with serve(client="203.0.113.7", health={...}) as http``."""

    @asynccontextmanager
    async def open_(
        client: str = "127.0.0.1", health: dict[str, Any] | None = None
    ) -> AsyncIterator[httpx.AsyncClient]:
        http: dict[str, Any] = {"use": "framework-fastapi", "access_log": False}
        if health is not None:
            http["health"] = health
        app = build_app(
            {"db": {"use": "database-sqlite", "path": "h.db"}, "http": http}, root=tmp_path
        )
        await app.start()
        try:
            transport = httpx.ASGITransport(app=app, client=(client, 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as it:
                yield it
        finally:
            await app.stop()

    return open_


@pytest.mark.parametrize("client", ["203.0.113.7", "10.0.0.5", "::ffff:198.51.100.1"])
async def test_detail_is_not_public_by_default(serve: Open, client: str) -> None:
    async with serve(client=client) as http:
        answer = await http.get("/health")
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "/health/ready" in answer.json()["detail"]
        assert str(Path.cwd()) not in answer.text
        ready = await http.get("/health/ready")
        assert ready.status_code == 200
        assert set(ready.json()) == {"status", "state"}  # a bare status, no details
        assert (await http.get("/health/live")).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        {"X-Forwarded-For": "203.0.113.7"},
        {"Forwarded": "for=203.0.113.7"},
        {"X-Real-IP": "203.0.113.7"},
    ],
)
async def test_a_proxy_on_loopback_does_not_make_the_world_local(
    serve: Open, header: dict[str, str]
) -> None:
    async with serve() as http:
        assert (await http.get("/health", headers=header)).status_code == 403


@pytest.mark.parametrize("client", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
async def test_this_machine_reads_the_detail(serve: Open, client: str) -> None:
    async with serve(client=client) as http:
        answer = await http.get("/health")
        assert answer.status_code == 200, answer.text
        assert "db" in json.dumps(answer.json())


async def test_public_detail_is_an_explicit_choice(serve: Open) -> None:
    async with serve(client="203.0.113.7", health={"detail": "public"}) as http:
        assert (await http.get("/health")).status_code == 200
