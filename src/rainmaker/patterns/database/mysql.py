"""What is particular to MySQL and MariaDB: the asyncmy engine, its sessions, its error numbers.

One engine serves both servers; which one answered is known after the first connection
(SQLAlchemy reads the version then), and the few differences are settled per connection:

- the statement timeout is ``max_statement_time`` (seconds, every statement) on MariaDB
  and ``max_execution_time`` (milliseconds, SELECTs only) on MySQL;
- every session is strict (``STRICT_ALL_TABLES``): a value too long for its column fails as
  it does on PostgreSQL instead of being cut silently;
- transactions are READ COMMITTED by default, as on PostgreSQL, so a pattern that re-reads
  a row after losing an insert race sees the winner's row (see ``isolation_level``).

The outbox and ``jobs-local`` claim rows with ``FOR UPDATE SKIP LOCKED``, which needs
MariaDB 10.6 or MySQL 8.0.1; :func:`unsupported_server` says so at start instead of failing
on the first claim. MySQL has no transactional DDL: each migration revision commits on its
own (see the migrator).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from rainmaker.patterns.database.engine import EngineInfo
from rainmaker.patterns.database.settings import MySQLSettings, describe_mysql_url

DRIVER = "mysql+asyncmy"
NAMED_LOCKS = "rainmaker.named_locks"
"""Key of a pooled connection's ``info``: the ``GET_LOCK`` names it holds."""
MINIMUM_MARIADB = (10, 6)
MINIMUM_MYSQL = (8, 0, 1)

# Client and server error numbers that mean "the server cannot serve you right now".
UNAVAILABLE_ERRORS = {
    1040: "the server has too many connections",
    1053: "the server is shutting down",
    1203: "the database user has too many connections",
    1927: "the server killed the connection",
    1969: "the statement ran longer than statement_timeout and was stopped",  # MariaDB
    3024: "the statement ran longer than statement_timeout and was stopped",  # MySQL
    4031: "the server closed the connection after it sat idle",
}
# The connection itself failed; the cause (refused, unknown host…) says why when present.
CONNECTION_ERRORS = frozenset({2002, 2003, 2005, 2006, 2013, 2055})
_DRIVER_MODULES = ("asyncmy", "pymysql", "aiomysql", "MySQLdb")


class _PrimaryKeyNameNotes(logging.Filter):
    """Drops the server's note that a named primary key keeps no name (MySQL calls every
    primary key PRIMARY): asyncmy logs each note as a warning, and Alembic's version table
    and several built-in tables name theirs, so every migration run would log it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "ignored for PRIMARY key" not in record.getMessage()


logging.getLogger("asyncmy").addFilter(_PrimaryKeyNameNotes())


def mysql_engine(settings: MySQLSettings) -> tuple[AsyncEngine, EngineInfo]:
    """An asyncmy engine for ``settings.url`` (any accepted scheme is driven by asyncmy)."""
    host, port, database = describe_mysql_url(settings.url)
    url = make_url(settings.url).set(drivername=DRIVER)
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout,
        "charset": "utf8mb4",
    }
    if settings.statement_timeout:
        # A client-side bound too, for a server that stops answering without closing the
        # socket: the request fails instead of hanging.
        connect_args["read_timeout"] = settings.statement_timeout + 5
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        pool_pre_ping=settings.pool_pre_ping,
        pool_recycle=settings.pool_recycle,
        isolation_level=settings.isolation_level,
        echo=settings.echo,
        connect_args=connect_args,
    )
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The dialect has read the server's version by now (first_connect runs first).
        statements = session_statements(
            is_mariadb=bool(getattr(dialect, "is_mariadb", False)),
            statement_timeout=settings.statement_timeout,
        )
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, record: Any, _state: Any) -> None:
        # Named locks of SqlAlchemyDatabase.lock() outlive the transaction; the connection
        # comes back here after its commit or rollback, which is when they must end.
        if record is not None and record.info.pop(NAMED_LOCKS, None):
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT RELEASE_ALL_LOCKS()")
            finally:
                cursor.close()

    info = EngineInfo(
        backend="mysql",
        target=f"{host}:{port}/{database}",
        host=host,
        port=port,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        lock_wait=settings.statement_timeout,
    )
    return engine, info


def session_statements(*, is_mariadb: bool, statement_timeout: float) -> list[str]:
    """The ``SET SESSION`` statements run on every new connection."""
    statements = [
        "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')"
    ]
    if statement_timeout:
        if is_mariadb:
            statements.append(f"SET SESSION max_statement_time = {statement_timeout:g}")
        else:
            milliseconds = round(statement_timeout * 1000)
            statements.append(f"SET SESSION max_execution_time = {milliseconds}")
    return statements


def unsupported_server(*, is_mariadb: bool, version: tuple[int, ...]) -> str | None:
    """Why this server version cannot run the patterns, or ``None`` when it can."""
    name, minimum = ("MariaDB", MINIMUM_MARIADB) if is_mariadb else ("MySQL", MINIMUM_MYSQL)
    if tuple(version) >= minimum:
        return None
    shown = ".".join(str(part) for part in version) or "unknown"
    wanted = ".".join(str(part) for part in minimum)
    return (
        f"{name} {shown} is too old: the transactional outbox and jobs-local claim rows with "
        f"SELECT … FOR UPDATE SKIP LOCKED, which needs {name} {wanted} or newer"
    )


def unavailable_reason(error: BaseException) -> str | None:
    """Why a MySQL driver error means an outage, or ``None`` (not one, or not MySQL's).

    A failed connection whose cause is known (refused, unknown host…) gives ``None`` so
    that the caller walks on to that cause, which says more.
    """
    if type(error).__module__.split(".", 1)[0] not in _DRIVER_MODULES:
        return None
    number = error.args[0] if error.args else None
    if not isinstance(number, int):
        return None
    if number in UNAVAILABLE_ERRORS:
        return UNAVAILABLE_ERRORS[number]
    if number in CONNECTION_ERRORS:
        if error.__cause__ is not None or error.__context__ is not None:
            return None
        message = str(error.args[1]) if len(error.args) > 1 else str(number)
        return f"the connection failed ({message.strip().splitlines()[0]})"
    return None
