"""Settings of the database patterns.

Validated before anything starts (so ``rainmaker check`` reports a bad URL), and importing
this module never imports SQLAlchemy: listing patterns stays cheap.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import Field, field_validator

from rainmaker import Settings

POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
# Every MySQL/MariaDB URL is driven through asyncmy (see mysql.py), whatever it names.
MYSQL_SCHEMES = ("mysql", "mysql+asyncmy", "mariadb", "mariadb+asyncmy")


class PoolSettings(Settings):
    """Connection-pool settings shared by every backend."""

    pool_size: int = Field(5, ge=1, le=1000, description="Connections kept open in the pool.")
    pool_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a request waits for a free connection before failing with 503 "
        "(the acquire timeout).",
    )
    auto_migrate: bool = Field(
        False,
        description="Upgrade every pattern's migrations on this database when the app starts.",
    )
    migration_lock_timeout: float = Field(
        300.0,
        ge=0,
        description="Seconds an upgrade (`rainmaker db upgrade` or auto_migrate) waits for "
        "another process's migration lock before failing with the holder's name (0 waits "
        "forever). The wait is logged.",
    )
    outbox_poll_interval: float = Field(
        1.0,
        ge=0,
        description="Seconds between outbox relay sweeps when a handler is registered "
        "(0 relays only right after commits).",
    )
    outbox_lease: float = Field(
        60.0,
        gt=0,
        description="Seconds an outbox relay holds the messages it claimed; a relay that "
        "died holding them (a killed process) leaves them to another relay after this. "
        "Lower hands them on sooner; keep it above the slowest handler's run, or a slow "
        "but live relay's messages are handed on twice.",
    )
    echo: bool = Field(False, description="Log every SQL statement (development only).")


class SqliteSettings(PoolSettings):
    """``database-sqlite``: an embedded database file, no server needed."""

    path: str = Field(
        "app.db",
        min_length=1,
        description="Database file, relative to the app folder; its folder is created.",
    )
    auto_migrate: bool = Field(
        True,
        description="Upgrade every pattern's migrations on this database when the app starts "
        "(on by default for the embedded database).",
    )
    busy_timeout: float = Field(
        5.0,
        ge=0,
        description="Seconds a statement waits for another connection's write lock before failing.",
    )
    synchronous: Literal["full", "normal"] = Field(
        "full",
        description="SQLite fsync policy: 'full' survives power loss, 'normal' (WAL) only "
        "process crashes but writes faster.",
    )
    begin: Literal["immediate", "deferred"] = Field(
        "immediate",
        description="How transactions begin: 'immediate' takes the write lock up front so a "
        "transaction never fails half-way when it upgrades from reading to writing.",
    )

    @field_validator("path")
    @classmethod
    def _not_memory(cls, value: str) -> str:
        if value.strip() in (":memory:", "") or value.startswith("file::memory:"):
            raise ValueError(
                "an in-memory database cannot be shared by a connection pool; "
                "give a file path (e.g. 'app.db' or a temporary folder)"
            )
        return value


class ServerPoolSettings(PoolSettings):
    """What the server-backed databases share: a larger pool and its connection limits."""

    pool_size: int = Field(10, ge=1, le=1000, description="Connections kept open in the pool.")
    max_overflow: int = Field(
        10, ge=0, le=1000, description="Extra connections opened beyond pool_size under load."
    )
    pool_pre_ping: bool = Field(
        True,
        description="Check a pooled connection before use, so a restarted server is "
        "recovered without errors.",
    )
    pool_recycle: float = Field(
        1800.0,
        gt=0,
        description="Seconds after which a pooled connection is replaced (keeps clear of "
        "server and proxy idle limits).",
    )
    connect_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for a new connection before failing."
    )
    statement_timeout: float = Field(
        30.0,
        ge=0,
        description="Seconds after which the server cancels a statement (0 disables).",
    )


class PostgresSettings(ServerPoolSettings):
    """``database-postgres``: PostgreSQL through asyncpg."""

    url: str = Field(
        description="postgresql://user:password@host:port/database (the password may also "
        "come from ${VAR} interpolation).",
        examples=["postgresql://app:secret@127.0.0.1:5432/app"],
    )
    application_name: str | None = Field(
        None,
        max_length=63,
        description="Shown in pg_stat_activity; defaults to the app's name.",
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        describe_postgres_url(value)
        return value


def describe_postgres_url(url: str) -> tuple[str, int, str]:
    """``(host, port, database)`` of a PostgreSQL URL; ``ValueError`` says what is wrong."""
    example = "postgresql://user:password@127.0.0.1:5432/app"
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}); expected {example}") from None
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ValueError(
            f"scheme {parts.scheme + '://' if parts.scheme else '(none)'} is not PostgreSQL; "
            f"expected {example}"
        )
    return _host_port_database(
        parts, port, example, "(connect_timeout, statement_timeout, application_name…) instead"
    )


class MySQLSettings(ServerPoolSettings):
    """``database-mysql``: a MySQL (8.0+) or MariaDB (10.6+) server through asyncmy."""

    url: str = Field(
        description="mysql://user:password@host:port/database (mariadb:// and "
        "mysql+asyncmy:// too; the password may also come from ${VAR} interpolation).",
        examples=["mysql://app:secret@127.0.0.1:3306/app"],
    )
    statement_timeout: float = Field(
        30.0,
        ge=0,
        description="Seconds after which the server stops a statement (MariaDB: every "
        "statement, MySQL: SELECTs only; 0 disables).",
    )
    isolation_level: Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] = Field(
        "READ COMMITTED",
        description="Transaction isolation. READ COMMITTED (PostgreSQL's default) makes a "
        "re-read after a conflict see the row another transaction committed, which the "
        "patterns rely on; REPEATABLE READ is the server's own default.",
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        describe_mysql_url(value)
        return value


def describe_mysql_url(url: str) -> tuple[str, int, str]:
    """``(host, port, database)`` of a MySQL/MariaDB URL; ``ValueError`` says what is wrong."""
    example = "mysql://user:password@127.0.0.1:3306/app"
    try:
        parts = urlsplit(url)
        port = parts.port or 3306
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}); expected {example}") from None
    if parts.scheme not in MYSQL_SCHEMES:
        scheme = parts.scheme + "://" if parts.scheme else "(none)"
        if parts.scheme.split("+", 1)[0] in ("mysql", "mariadb"):
            raise ValueError(
                f"driver {parts.scheme.split('+', 1)[1]!r} in {scheme} is not supported: this "
                f"pattern connects through asyncmy; write mysql:// (e.g. {example})"
            )
        raise ValueError(f"scheme {scheme} is not MySQL or MariaDB; expected {example}")
    return _host_port_database(
        parts,
        port,
        example,
        "(connect_timeout, statement_timeout, isolation_level…) instead (the connection "
        "always uses the utf8mb4 character set)",
    )


def _host_port_database(
    parts: SplitResult, port: int, example: str, settings_instead: str
) -> tuple[str, int, str]:
    """What both server URLs must name: a host and one database, with no query string
    (its options are this pattern's settings, listed in ``settings_instead``)."""
    if not parts.hostname:
        raise ValueError(f"the URL names no host; expected {example}")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError(f"the URL names no database after the host; expected {example}")
    if parts.query:
        raise ValueError(
            "query parameters are not supported in the URL; use this pattern's settings "
            + settings_instead
        )
    return parts.hostname, port, database
