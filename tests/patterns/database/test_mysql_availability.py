"""``database-mysql`` when things go wrong, and the session it sets up: bad URLs, a server
that is down, hangs or goes away, statements that run too long, and the column types the
built-in migrations create.

Against the MariaDB server of the ``mysql_url`` fixture; skips locally without it and fails
under ``CI=true``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from rainmaker import CompositionError, StartupError, UnavailableError
from rainmaker.capabilities.database import Database
from rainmaker.kernel.health import Status
from rainmaker.kernel.logging import configure_logging
from rainmaker.patterns.database.mysql import session_statements, unsupported_server
from rainmaker.patterns.database.outbox import outbox_table
from rainmaker.patterns.jobs.tables import idempotency_table
from rainmaker.testing.harness import build_app
from rainmaker.testing.proxy import TcpProxy
from tests.patterns.database.dbtest_patterns import ledger
from tests.patterns.database.mysql_databases import (  # noqa: F401 (fixtures)
    fresh_mysql_database,
    shared_mysql_database,
)
from tests.patterns.database.test_database_availability import free_port, silent_server

WAIT = 10.0


def moved(url: str, *, port: int, password: str | None = None) -> str:
    """``url`` on another loopback port (and with ``password``)."""
    changed = make_url(url).set(host="127.0.0.1", port=port)
    if password is not None:
        changed = changed.set(password=password)
    return changed.render_as_string(hide_password=False)


# -- settings (no server needed) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "is not MySQL or MariaDB"),
        ("mysql+pymysql://u@h/db", "driver 'pymysql'"),
        ("mysql://u@/db", "names no host"),
        ("mariadb://u@h:3306", "names no database"),
        ("mysql://u@h:99999/db", "not a valid URL"),
        ("mysql://u@h/db?charset=latin1", "query parameters are not supported"),
    ],
)
def test_bad_url_is_a_settings_error(url: str, expected: str, tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as caught:
        build_app({"db": {"use": "database-mysql", "url": url}}, root=tmp_path)
    (problem,) = caught.value.problems
    assert problem.location == "db.url"
    assert expected in problem.message


def test_url_password_is_redacted_in_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as caught:
        build_app(
            {"db": {"use": "database-mysql", "url": "postgresql://u:hunter22@h/db"}},
            root=tmp_path,
        )
    assert "hunter22" not in str(caught.value)


@pytest.mark.parametrize("url", ["mysql://u@h/db", "mariadb://u@h/db", "mysql+asyncmy://u@h/db"])
def test_every_accepted_scheme_is_driven_by_asyncmy(url: str) -> None:
    from rainmaker.patterns.database.mysql import mysql_engine
    from rainmaker.patterns.database.settings import MySQLSettings

    engine, info = mysql_engine(MySQLSettings(url=url))
    assert engine.url.drivername == "mysql+asyncmy"
    assert (info.backend, info.target) == ("mysql", "h:3306/db")


def test_statement_timeout_uses_each_servers_own_variable() -> None:
    mariadb = session_statements(is_mariadb=True, statement_timeout=2.5)
    mysql = session_statements(is_mariadb=False, statement_timeout=2.5)
    assert mariadb[-1] == "SET SESSION max_statement_time = 2.5"
    assert mysql[-1] == "SET SESSION max_execution_time = 2500"
    assert not any("max_" in s for s in session_statements(is_mariadb=True, statement_timeout=0))


def test_servers_without_skip_locked_are_refused_with_the_version_needed() -> None:
    assert unsupported_server(is_mariadb=True, version=(10, 11, 19)) is None
    assert unsupported_server(is_mariadb=False, version=(8, 0, 36)) is None
    old = unsupported_server(is_mariadb=True, version=(10, 5, 9))
    assert old is not None and "MariaDB 10.5.9" in old and "10.6" in old
    assert "SKIP LOCKED" in (unsupported_server(is_mariadb=False, version=(5, 7, 44)) or "")


# -- a server that is not there ------------------------------------------------------------


@pytest.mark.mysql
async def test_down_server_fails_start_naming_the_url_without_its_password(
    mysql_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = moved(mysql_url, port=port, password="hunter22")
    app = build_app({"db": {"use": "database-mysql", "url": url}}, root=tmp_path)
    with pytest.raises(StartupError) as caught:
        await app.start()
    message = str(caught.value)
    assert "host 127.0.0.1" in message and f"port {port}" in message
    assert f"127.0.0.1:{port}" in message and "***" in message
    assert "hunter22" not in message
    assert "refused" in message
    assert "start MySQL or MariaDB" in message and "correct the url setting" in message
    assert app.state == "failed"


@pytest.mark.mysql
async def test_server_that_never_answers_fails_start_within_connect_timeout(
    mysql_url: str, tmp_path: Path
) -> None:
    async with silent_server() as port:
        url = moved(mysql_url, port=port)
        app = build_app(
            {"db": {"use": "database-mysql", "url": url, "connect_timeout": 0.3}},
            root=tmp_path,
        )
        async with asyncio.timeout(WAIT):  # the [app] start_timeout (30 s) is not what ends it
            with pytest.raises(StartupError) as caught:
                await app.start()
    message = str(caught.value)
    assert f"port {port}" in message
    assert "did not answer" in message or "timed out" in message.lower(), message


# -- a server that goes away -----------------------------------------------------------------


@pytest.fixture
async def proxy(mysql_url: str) -> AsyncIterator[TcpProxy]:
    parts = make_url(mysql_url)
    async with TcpProxy(parts.host or "127.0.0.1", parts.port or 3306) as running:
        yield running


@pytest.mark.mysql
async def test_lost_server_turns_health_down_requests_503_and_recovers(
    proxy: TcpProxy,
    shared_mysql_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    configure_logging(fmt="json")  # see test_database_availability: tracebacks are slow
    url = moved(shared_mysql_database, port=proxy.port)
    app = build_app(
        {
            "db": {
                "use": "database-mysql",
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


# -- the session and the tables --------------------------------------------------------------


@pytest.mark.mysql
async def test_sessions_are_strict_read_committed_and_bounded_in_time(
    shared_mysql_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    app = build_app(
        {"db": {"use": "database-mysql", "url": shared_mysql_database, "statement_timeout": 0.3}},
        root=tmp_path,
    )
    async with app.running():
        db = app.services.require(Database)
        async with db.session() as session:
            isolation = await session.scalar(text("SELECT @@SESSION.tx_isolation"))
            sql_mode = str(await session.scalar(text("SELECT @@SESSION.sql_mode")))
            charset = await session.scalar(text("SELECT @@SESSION.character_set_client"))
        assert isolation == "READ-COMMITTED"
        assert "STRICT_ALL_TABLES" in sql_mode.split(",")
        assert charset == "utf8mb4"
        with pytest.raises(UnavailableError, match="statement_timeout"):
            async with db.session() as session:
                await session.execute(text("SELECT SLEEP(5)"))
        async with db.session() as session:  # the pool serves again
            assert await session.scalar(text("SELECT 1")) == 1


@pytest.mark.mysql
async def test_migrated_tables_keep_microseconds_and_compare_text_exactly(
    fresh_mysql_database: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    app = build_app(
        {
            "db": {"use": "database-mysql", "url": fresh_mysql_database, "auto_migrate": True},
            "jobs": {"use": "jobs-local"},
        },
        root=tmp_path,
    )
    async with app.running():
        db = app.services.require(Database)
        moment = datetime(2026, 12, 1, 10, 30, 15, 123456)
        async with db.session() as session:
            await session.execute(
                insert(outbox_table).values(
                    topic="t", payload={"a": [1, "x"]}, created_at=moment, attempts=0
                )
            )
            for key in ("Key", "key"):
                await session.execute(
                    insert(idempotency_table).values(key=key, job_id="j", done=0, expires_at=moment)
                )
        async with db.session() as session:
            row = (await session.execute(select(outbox_table))).one()
            assert row.created_at == moment.replace(tzinfo=UTC)  # read back aware UTC
            assert row.payload == {"a": [1, "x"]}
            count = await session.scalar(
                select(func.count())
                .select_from(idempotency_table)
                .where(idempotency_table.c.key == "key")
            )
        assert count == 1  # not "Key" too, as on PostgreSQL and SQLite
