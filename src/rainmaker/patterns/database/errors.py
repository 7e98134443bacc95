"""Turning driver failures into Rainmaker errors people (and HTTP clients) understand.

A lost or unreachable server, an exhausted pool, a stopped statement (PostgreSQL, MySQL and
MariaDB) or a locked SQLite file becomes an
:class:`~rainmaker.UnavailableError` (503 problem+json over HTTP), naming the database and
the reason. Everything else (constraint violations, SQL mistakes) is left as the driver
raised it: those are bugs or conflicts the calling pattern must handle, not outages.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

from rainmaker import PatternError, UnavailableError
from rainmaker.patterns.database import mysql

# PostgreSQL SQLSTATEs that mean "the server cannot serve you right now".
_UNAVAILABLE_SQLSTATES = {
    "57014": "the statement ran longer than statement_timeout and was cancelled",
    "57P01": "the server is shutting down",
    "57P02": "the server is shutting down",
    "57P03": "the server is starting up and not accepting connections yet",
    "53300": "the server has too many connections",
    "53400": "the server's configuration limit was exceeded",
}
# SQLite OperationalError messages that mean the file cannot be used right now. "no such
# table" and friends are not outages and stay as they are.
_SQLITE_UNAVAILABLE = re.compile(
    r"database is locked|database table is locked|unable to open database|disk i/o error|"
    r"database or disk is full|attempt to write a readonly database",
    re.I,
)


class DatabaseUnavailableError(UnavailableError):
    """An outage of one database; ``reason`` says why without naming the database.

    The message reads ``database <target> is unavailable: <reason>``; callers that name the
    database their own way (the start error names host, port and database) use ``reason``.
    """

    def __init__(
        self, *, target: str, reason: str, instance: str, hint: str, cause: BaseException
    ) -> None:
        super().__init__(
            f"database {target} is unavailable: {reason}",
            pattern_id=instance,
            hint=hint,
            cause=cause,
        )
        self.target = target
        self.reason = reason


class TransactionTaskError(PatternError):
    """A unit of work was used from a task other than the one that opened it."""

    code = "transaction_shared_across_tasks"
    title = "Transaction used from another task"


class MigrationError(PatternError):
    """A migration could not be found, generated or applied."""

    code = "migration_failed"
    title = "Migration failed"


class MigrationRefusedError(MigrationError):
    """A migration touched tables outside its pattern's prefix and was rolled back."""

    code = "migration_outside_prefix"
    title = "Migration refused"


class MigrationLockTimeoutError(MigrationError):
    """Another process held the migration lock for longer than ``migration_lock_timeout``."""

    code = "migration_lock_timeout"
    title = "Migration lock not acquired"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, sa_exc.DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__ or current.__context__


def unavailable_reason(error: BaseException) -> str | None:
    """Why ``error`` means the database cannot be used right now, or ``None`` if it does not."""
    if isinstance(error, sa_exc.TimeoutError):
        return "no free connection in the pool"
    for item in _chain(error):
        if isinstance(item, sa_exc.DBAPIError) and item.connection_invalidated:
            return f"the connection was lost ({_first_line(item.orig)})"
        sqlstate = getattr(item, "sqlstate", None) or getattr(item, "pgcode", None)
        if isinstance(sqlstate, str):
            if sqlstate.startswith("08"):
                return f"the connection failed ({_first_line(item)})"
            if sqlstate in _UNAVAILABLE_SQLSTATES:
                return _UNAVAILABLE_SQLSTATES[sqlstate]
        mysql_reason = mysql.unavailable_reason(item)
        if mysql_reason is not None:
            return mysql_reason
        if isinstance(item, socket.gaierror):
            return f"the host name does not resolve ({item.strerror or item})"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused (is the server running and listening there?)"
        if isinstance(item, (ConnectionError, OSError)) and not isinstance(item, FileNotFoundError):
            return f"{type(item).__name__}: {_first_line(item)}"
        if isinstance(item, (TimeoutError, asyncio.TimeoutError)):
            return "the server did not answer in time"
        name = type(item).__name__
        if (
            name in ("ConnectionDoesNotExistError", "InterfaceError")
            and "connection" in str(item).lower()
        ):
            return f"the connection was lost ({_first_line(item)})"
        if (
            isinstance(item, sa_exc.OperationalError) or name == "OperationalError"
        ) and _SQLITE_UNAVAILABLE.search(str(item)):
            return _first_line(item)
    return None


def as_unavailable(
    error: BaseException, *, target: str, instance: str, hint: str | None = None
) -> UnavailableError | None:
    """An :class:`UnavailableError` for ``error`` when it is an outage, else ``None``."""
    if isinstance(error, UnavailableError):
        return error
    reason = unavailable_reason(error)
    if reason is None:
        return None
    return DatabaseUnavailableError(
        target=target,
        reason=reason,
        instance=instance,
        hint=hint
        or "check that the database server is running and reachable; requests "
        "succeed again as soon as it is back",
        cause=error,
    )


def _first_line(error: BaseException | None) -> str:
    text = str(error) if error is not None else ""
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__
