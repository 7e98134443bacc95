"""Outages: unreachable at start, lost after start (503, health down), recovery, bad URLs."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from rainmaker import CompositionError, StartupError, UnavailableError
from rainmaker.capabilities.database import Database
from rainmaker.kernel.health import Status
from rainmaker.kernel.logging import configure_logging
from rainmaker.testing.harness import build_app
from rainmaker.testing.proxy import TcpProxy
from tests.patterns.database.conftest import PG_HOST, PG_PORT, pg_url
from tests.patterns.database.dbtest_patterns import ledger

WAIT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def proxy(postgres_server: None) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(PG_HOST, PG_PORT) as running:
        yield running


async def test_lost_server_turns_health_down_requests_503_and_recovers(
    proxy: TcpProxy, shared_pg_database: str, tmp_path: Path
) -> None:
    # Plain JSON logs: the default console renderer draws every logged traceback with its
    # locals, which takes seconds for a 503 and is not what this test is about.
    configure_logging(fmt="json")
    url = pg_url(shared_pg_database, host="127.0.0.1", port=proxy.port)
    app = build_app(
        {
            "db": {
                "use": "database-postgres",
                "url": url,
                "auto_migrate": True,
                "connect_timeout": 2,
                "pool_timeout": 2,
            },
            "ledger": {"use": "ledger"},
            "http": {"use": "framework-fastapi"},
        },
        root=tmp_path,
        extra_patterns=[ledger.pattern],
    )
    async with app.running():
        db = app.services.require(Database)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        async with client:
            assert (await client.get("/ledger/total")).status_code == 200
            assert (await app.health()).ready

            await proxy.stop()
            report = await app.health()
            assert not report.ready
            down = {i.instance: i for i in report.instances}["db"]
            assert down.status is Status.DOWN
            assert f"127.0.0.1:{proxy.port}" in down.details["reason"]

            response = await client.get("/ledger/total")
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/problem+json")
            assert (await client.get("/health/ready")).status_code == 503
            with pytest.raises(UnavailableError) as caught:
                async with db.transaction() as session:
                    await session.execute(text("SELECT 1"))
            assert caught.value.status == 503

            await proxy.start()  # the server is back: no restart needed
            async with asyncio.timeout(WAIT):
                while not (await app.health()).ready:
                    await asyncio.sleep(0.05)
            response = await client.get("/ledger/total")
            assert response.status_code == 200, response.text
            async with db.session() as session:
                assert await session.scalar(text("SELECT 1")) == 1


async def test_unreachable_server_fails_start_naming_host_and_port(
    postgres_server: None, tmp_path: Path
) -> None:
    port = free_port()
    app = build_app(
        {"db": {"use": "database-postgres", "url": pg_url("x", host="127.0.0.1", port=port)}},
        root=tmp_path,
    )
    with pytest.raises(StartupError) as caught:
        await app.start()
    message = str(caught.value)
    assert "host 127.0.0.1" in message and f"port {port}" in message
    assert "refused" in message
    assert app.state == "failed"


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers: a server that hangs."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        for writer in held:
            writer.transport.abort()
        server.close()


async def test_server_that_never_answers_fails_start_within_connect_timeout(
    postgres_server: None, tmp_path: Path
) -> None:
    async with silent_server() as port:
        url = pg_url("x", host="127.0.0.1", port=port)
        app = build_app(
            {"db": {"use": "database-postgres", "url": url, "connect_timeout": 0.3}},
            root=tmp_path,
        )
        with pytest.raises(StartupError) as caught:
            await app.start()  # the [app] start_timeout (30 s) is not what ends it
    message = str(caught.value)
    assert f"port {port}" in message and "did not answer" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u@h/db", "is not PostgreSQL"),
        ("postgresql://u@/db", "names no host"),
        ("postgresql://u@h:5432", "names no database"),
        ("postgresql://u@h:99999/db", "not a valid URL"),
    ],
)
def test_bad_url_is_a_settings_error(url: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as caught:
        build_app({"db": {"use": "database-postgres", "url": url}}, root=tmp_path)
    (problem,) = caught.value.problems
    assert problem.location == "db.url"
    assert expected in problem.message


def test_url_password_is_redacted_in_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as caught:
        build_app(
            {"db": {"use": "database-postgres", "url": "mysql://u:hunter22@h/db"}}, root=tmp_path
        )
    assert "hunter22" not in str(caught.value)


async def test_server_settings_reach_the_session(shared_pg_database: str, tmp_path: Path) -> None:
    app = build_app(
        {
            "db": {
                "use": "database-postgres",
                "url": pg_url(shared_pg_database),
                "statement_timeout": 0.2,
                "application_name": "rainmaker-tests",
            }
        },
        root=tmp_path,
    )
    async with app.running():
        db = app.services.require(Database)
        async with db.session() as session:
            assert await session.scalar(text("SHOW application_name")) == "rainmaker-tests"
            assert await session.scalar(text("SHOW statement_timeout")) == "200ms"
        with pytest.raises(UnavailableError, match="statement_timeout"):
            async with db.session() as session:
                await session.execute(text("SELECT pg_sleep(5)"))


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    app = build_app(
        {"db": {"use": "database-sqlite", "path": "data/app.db", "busy_timeout": 2.5}},
        root=tmp_path,
    )
    async with app.running():
        db = app.services.require(Database)
        assert (tmp_path / "data" / "app.db").exists()
        async with db.session() as session:
            pragmas: dict[str, Any] = {
                name: await session.scalar(text(f"PRAGMA {name}"))
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 2500,
        "synchronous": 2,
    }


def test_sqlite_in_memory_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(CompositionError, match="in-memory"):
        build_app({"db": {"use": "database-sqlite", "path": ":memory:"}}, root=tmp_path)
