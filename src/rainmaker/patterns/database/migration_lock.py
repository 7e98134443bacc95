"""One migration run at a time per database, across processes.

Several processes may start at once and each upgrade the schema (``rainmaker db upgrade``
in a deploy Job plus ``auto_migrate`` in the replicas, or three replicas with
``auto_migrate``). Without a lock the second one crashes half-way (PostgreSQL:
``UniqueViolation`` on ``pg_type_typname_nsp_index`` as both create the same version
table). With it, the second waits, then finds the schema at head and does nothing.

- PostgreSQL: a session-level advisory lock (two-key form, so it never collides with the
  one-key locks of :meth:`SqlAlchemyDatabase.lock`), held on one connection for the whole
  upgrade; the migrations run on that same connection, so a pool of one suffices.
- MySQL and MariaDB: ``GET_LOCK`` on that connection, named after the database (named
  locks are server-wide).
- SQLite: an exclusive ``flock`` on ``<file>.migrate-lock`` next to the database. SQLite's
  own write lock lasts one transaction, and each pattern's branch commits on its own, so
  it cannot cover a whole upgrade.

The wait polls (so it can be logged and bounded by ``migration_lock_timeout``) and a
timeout names who holds the lock: ``pg_stat_activity``'s pid and application_name, the
MySQL connection id, user and host, or the pid written into the SQLite lock file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from rainmaker.patterns.database.errors import MigrationLockTimeoutError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from rainmaker.patterns.database.database import SqlAlchemyDatabase

# The two keys of the PostgreSQL advisory lock: "RM" and "migr" as 32-bit integers.
PG_CLASS_ID = 0x524D
PG_OBJECT_ID = 0x6D696772
POLL_INTERVAL = 0.25
LOG_EVERY = 10.0  # seconds between "still waiting" lines


def mysql_lock_name(database: str) -> str:
    """The ``GET_LOCK`` name for migrations of ``database`` (at most 64 characters)."""
    return f"rainmaker.migrations.{database}"[:64]


@contextlib.asynccontextmanager
async def migration_lock(
    database: SqlAlchemyDatabase, *, timeout: float, log: Any
) -> AsyncIterator[AsyncConnection | None]:
    """Hold the database's migration lock for the block; the connection holding it.

    The migrations should run on the connection yielded (``None`` on SQLite, where the
    lock is a file). Raises :class:`MigrationLockTimeoutError` after ``timeout`` seconds
    (``0``: wait forever), naming the holder.
    """
    backend = database.backend
    if backend == "sqlite":
        async with _file_lock(Path(database.info.target), timeout=timeout, log=log):
            yield None
        return
    async with database.engine.connect() as connection:
        released = False
        try:
            await _acquire(connection, database, timeout=timeout, log=log)
            try:
                yield connection
            finally:
                # The connection goes back to the pool: a session-level lock left on it
                # would block every later migration run until the connection is recycled.
                with contextlib.suppress(Exception):
                    await connection.rollback()
                    await connection.execute(_release_statement(database))
                    await connection.commit()
                    released = True
        finally:
            if not released:
                # Closing the server session releases the lock; never pool it.
                with contextlib.suppress(Exception):
                    await connection.invalidate()


def _target_database(database: SqlAlchemyDatabase) -> str:
    return database.info.target.rsplit("/", 1)[-1]


def _try_statement(database: SqlAlchemyDatabase) -> Any:
    if database.backend == "postgresql":
        return text(f"SELECT pg_try_advisory_lock({PG_CLASS_ID}, {PG_OBJECT_ID})")
    return text("SELECT GET_LOCK(:name, 0)").bindparams(
        name=mysql_lock_name(_target_database(database))
    )


def _release_statement(database: SqlAlchemyDatabase) -> Any:
    if database.backend == "postgresql":
        return text(f"SELECT pg_advisory_unlock({PG_CLASS_ID}, {PG_OBJECT_ID})")
    return text("SELECT RELEASE_LOCK(:name)").bindparams(
        name=mysql_lock_name(_target_database(database))
    )


async def _acquire(
    connection: AsyncConnection, database: SqlAlchemyDatabase, *, timeout: float, log: Any
) -> None:
    began = time.monotonic()
    logged_at: float | None = None
    while True:
        got = (await connection.execute(_try_statement(database))).scalar()
        await connection.commit()  # a session lock outlives the transaction; end it
        waited = time.monotonic() - began
        if got in (True, 1):
            if logged_at is not None and log is not None:
                log.info("database.migration_lock_acquired", waited_s=round(waited, 3))
            return
        if timeout and waited >= timeout:
            holder = await _holder(connection, database)
            raise MigrationLockTimeoutError(
                f"another process has held the migration lock of database "
                f"{database.info.target} for over {timeout:g}s ({holder}); nothing was applied",
                pattern_id=database.instance,
                hint="wait for that process to finish migrating, or stop it if it is stuck; "
                "raise migration_lock_timeout when migrations legitimately take longer",
            )
        if log is not None and (logged_at is None or waited - logged_at >= LOG_EVERY):
            logged_at = waited
            log.info(
                "database.migration_lock_waiting",
                target=database.info.target,
                waited_s=round(waited, 3),
                timeout_s=timeout,
                holder=await _holder(connection, database),
            )
        await asyncio.sleep(POLL_INTERVAL)


async def _holder(connection: AsyncConnection, database: SqlAlchemyDatabase) -> str:
    """Who holds the lock, as far as the server says (never raises)."""
    try:
        if database.backend == "postgresql":
            row = (
                await connection.execute(
                    text(
                        "SELECT a.pid, a.application_name, a.client_addr::text, "
                        "a.backend_start, a.state FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted "
                        "AND l.classid = :c AND l.objid = :o AND l.objsubid = 2 "
                        "AND l.database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database())"
                    ).bindparams(c=PG_CLASS_ID, o=PG_OBJECT_ID)
                )
            ).first()
            await connection.commit()
            if row is None:
                return "held by a session that has just ended"
            pid, application, client, since, state = row
            return (
                f"held by PostgreSQL backend pid {pid}, application_name "
                f"{application or '(none)'!r}, client {client or 'local socket'}, "
                f"connected since {since:%Y-%m-%d %H:%M:%S}, {state}"
            )
        name = mysql_lock_name(_target_database(database))
        owner = (
            await connection.execute(text("SELECT IS_USED_LOCK(:n)").bindparams(n=name))
        ).scalar()
        if owner is None:
            await connection.commit()
            return "held by a session that has just ended"
        row = (
            await connection.execute(
                text(
                    "SELECT USER, HOST, TIME, COMMAND FROM information_schema.PROCESSLIST "
                    "WHERE ID = :id"
                ).bindparams(id=owner)
            )
        ).first()
        await connection.commit()
        if row is None:
            return f"held by connection id {owner}"
        user, host, seconds, command = row
        return f"held by connection id {owner} ({user}@{host}, {command} for {seconds}s)"
    except Exception as error:  # the message must still be raised; say what we know
        return f"the holder could not be read: {type(error).__name__}"


@contextlib.asynccontextmanager
async def _file_lock(database_file: Path, *, timeout: float, log: Any) -> AsyncIterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no flock; SQLite's busy timeout is all there is
        yield
        return
    path = database_file.with_name(database_file.name + ".migrate-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        began = time.monotonic()
        logged_at: float | None = None
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - began
                holder = _file_holder(descriptor)
                if timeout and waited >= timeout:
                    raise MigrationLockTimeoutError(
                        f"another process has held the migration lock {path} for over "
                        f"{timeout:g}s ({holder}); nothing was applied",
                        pattern_id=str(database_file.name),
                        hint="wait for that process to finish migrating, or stop it if it "
                        "is stuck; raise migration_lock_timeout when migrations "
                        "legitimately take longer",
                    ) from None
                if log is not None and (logged_at is None or waited - logged_at >= LOG_EVERY):
                    logged_at = waited
                    log.info(
                        "database.migration_lock_waiting",
                        target=str(database_file),
                        waited_s=round(waited, 3),
                        timeout_s=timeout,
                        holder=holder,
                    )
                await asyncio.sleep(POLL_INTERVAL)
        # Who holds it, for the next process's message; the lock is the flock, not this.
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _file_holder(descriptor: int) -> str:
    try:
        written = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
    except OSError:
        written = ""
    return f"held by {written}" if written else "held by another process"
