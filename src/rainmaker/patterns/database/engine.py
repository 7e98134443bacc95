"""Building the one SQLAlchemy async engine (and pool) of a database instance.

SQLite goes through aiosqlite with WAL, foreign keys and a busy timeout set on every new
connection, and transactions that begin as SQLAlchemy says (the sqlite3 module's own
implicit BEGIN handling is switched off, so savepoints and transactional DDL work).
PostgreSQL goes through asyncpg with pool size, overflow, acquire timeout, pre-ping,
recycle, connect timeout, statement timeout and application_name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from rainmaker.patterns.database.settings import (
    PostgresSettings,
    SqliteSettings,
    describe_postgres_url,
)

#: Execution option of the engine a unit uses when its SQLite transaction should begin
#: at its first write rather than at its first statement (see ``sqlite_engine``).
BEGIN_AT_FIRST_WRITE = "rainmaker_begin_at_first_write"
# connection.info key: the BEGIN statement still to emit for the open unit, or None.
_PENDING_BEGIN = "rainmaker_pending_begin"
#: Seconds a pooled PostgreSQL connection may idle before its checkout pings the server.
PING_AFTER_IDLE = 5.0
# Pool record info key: when the connection was last returned (time.monotonic()).
_RETURNED_AT = "rainmaker_returned_at"


@dataclass(frozen=True)
class EngineInfo:
    """What people need to know about an engine: its backend and where it points.

    ``target`` is shown in errors and health (``127.0.0.1:5432/app``, never a password);
    ``host``/``port`` are ``None`` for SQLite.
    """

    backend: str
    target: str
    host: str | None = None
    port: int | None = None
    pool_size: int = 0
    max_overflow: int = 0
    pool_timeout: float = 0.0
    # SQLite: transactions begin IMMEDIATE, so each holds the write lock from its start.
    serialised_writes: bool = False
    # Seconds a named lock (MySQL's GET_LOCK) may wait; 0: no bound of its own.
    lock_wait: float = 0.0
    # SQLite: seconds a transaction waits for the write lock (busy_timeout).
    write_wait: float = 0.0


def sqlite_engine(settings: SqliteSettings, root: Path) -> tuple[AsyncEngine, EngineInfo]:
    """An aiosqlite engine for ``settings.path`` (relative to ``root``)."""
    path = Path(settings.path)
    if not path.is_absolute():
        path = root / path
    path = path.resolve()
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}",
        pool_size=settings.pool_size,
        max_overflow=0,
        pool_timeout=settings.pool_timeout,
        echo=settings.echo,
        # sqlite3's own timeout is the busy timeout for opening; the PRAGMA covers the rest.
        connect_args={"timeout": settings.busy_timeout},
    )
    pragmas = (
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={int(settings.busy_timeout * 1000)}",
        f"PRAGMA synchronous={settings.synchronous.upper()}",
    )
    begin = "BEGIN IMMEDIATE" if settings.begin == "immediate" else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin): the driver's implicit
        # transactions break SAVEPOINT and transactional DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(BEGIN_AT_FIRST_WRITE):
            connection.info[_PENDING_BEGIN] = begin
        else:
            connection.info[_PENDING_BEGIN] = None
            _emit(connection, begin)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before_execute(
        connection: Any, _cursor: Any, statement: str, _parameters: Any, context: Any, *_: Any
    ) -> None:
        # A unit begun at its first write: the reads before it run on their own (each
        # sees the latest commit, as under PostgreSQL's READ COMMITTED) and without the
        # write lock, so concurrent readers never queue behind each other or a writer.
        if connection.info.get(_PENDING_BEGIN) and not _is_read(statement, context):
            begin_pending(connection)

    info = EngineInfo(
        backend="sqlite",
        target=str(path),
        pool_size=settings.pool_size,
        pool_timeout=settings.pool_timeout,
        serialised_writes=settings.begin == "immediate",
        write_wait=settings.busy_timeout,
    )
    return engine, info


def _check_before_use(engine: AsyncEngine) -> None:
    """Hand out only live pooled connections, without a round trip on every checkout.

    A server that restarts or drops a connection closes its socket, which asyncpg notices
    while the connection idles in the pool: that is checked locally on each checkout. A
    connection idle longer than ``PING_AFTER_IDLE`` is pinged too (a peer can vanish
    without closing, e.g. behind a proxy or NAT). A dead one is replaced by a fresh one
    (SQLAlchemy retries the checkout on ``DisconnectionError``).
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this pooled connection")
        returned = record.info.get(_RETURNED_AT)
        if returned is not None and time.monotonic() - returned > PING_AFTER_IDLE:
            try:
                dialect.do_ping(dbapi_connection)
            except Exception as error:
                raise DisconnectionError(f"a pooled connection failed its ping: {error}") from error


def begin_pending(connection: Any) -> None:
    """Begin the SQLite transaction of a unit begun at its first write, if not yet begun.

    ``connection`` is the sync :class:`~sqlalchemy.engine.Connection`; nothing happens on
    other databases or once the transaction has begun. ``lock()`` calls it so the write
    lock is held before the check it guards.
    """
    statement = connection.info.get(_PENDING_BEGIN)
    if statement:
        connection.info[_PENDING_BEGIN] = None
        _emit(connection, statement)


def _emit(connection: Any, statement: str) -> None:
    # Straight to aiosqlite: one hop to its thread, where exec_driver_sql takes three
    # (cursor, execute, close) and SQLAlchemy's statement machinery besides.
    connection.connection.dbapi_connection.run_async(lambda driver: driver.execute(statement))


def _is_read(statement: str, context: Any) -> bool:
    """Whether ``statement`` only reads: a SELECT that is not ``FOR UPDATE``.

    SQLite leaves ``FOR UPDATE`` out of the SQL, but a pattern asks for it where it means
    to write what it read (PostgreSQL locks the rows), so it takes the write lock here.
    Anything else, a CTE included (it may write), counts as a write.
    """
    if statement.lstrip()[:6].upper() != "SELECT":
        return False
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is None


def postgres_engine(settings: PostgresSettings, app_name: str) -> tuple[AsyncEngine, EngineInfo]:
    """An asyncpg engine for ``settings.url``."""
    host, port, database = describe_postgres_url(settings.url)
    url = make_url(settings.url).set(drivername="postgresql+asyncpg")
    server_settings = {"application_name": (settings.application_name or app_name)[:63]}
    connect_args: dict[str, Any] = {
        "timeout": settings.connect_timeout,
        "server_settings": server_settings,
    }
    if settings.statement_timeout:
        server_settings["statement_timeout"] = str(int(settings.statement_timeout * 1000))
        # A client-side bound too, for a server that stops answering without closing the
        # socket: the request fails instead of hanging.
        connect_args["command_timeout"] = settings.statement_timeout + 5
    engine = create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        # pool_pre_ping: see _check_before_use (SQLAlchemy's sends a query every checkout).
        pool_pre_ping=False,
        pool_recycle=settings.pool_recycle,
        echo=settings.echo,
        connect_args=connect_args,
    )
    if settings.pool_pre_ping:
        _check_before_use(engine)
    info = EngineInfo(
        backend="postgresql",
        target=f"{host}:{port}/{database}",
        host=host,
        port=port,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
    )
    return engine, info
