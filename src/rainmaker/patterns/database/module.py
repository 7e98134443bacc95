"""The running database modules: engine up, migrations (optionally), service registered.

``start`` opens the engine and proves the server answers within the connect timeout
(failing fast with host, port and reason), upgrades migrations when ``auto_migrate`` is on,
registers the :class:`~rainmaker.patterns.database.database.SqlAlchemyDatabase` as
``Database`` and starts the outbox relay. ``stop`` stops the relay and closes the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from rainmaker import DashboardPanel, Health, Module, PatternError, UnavailableError
from rainmaker.capabilities.database import Database
from rainmaker.patterns.database.dashboard_panel import migrations_panel
from rainmaker.patterns.database.database import SqlAlchemyDatabase
from rainmaker.patterns.database.engine import EngineInfo, postgres_engine, sqlite_engine
from rainmaker.patterns.database.errors import DatabaseUnavailableError
from rainmaker.patterns.database.migration_runner import AlembicMigrationRunner
from rainmaker.patterns.database.migrator import Migrator, branches_on
from rainmaker.patterns.database.mysql import mysql_engine, unsupported_server
from rainmaker.patterns.database.settings import (
    MySQLSettings,
    PoolSettings,
    PostgresSettings,
    SqliteSettings,
)

S = TypeVar("S", bound=PoolSettings)

HEALTH_TIMEOUT = 3.0


class DatabaseModule(Module[S], ABC):
    """What both backends share; subclasses say how to build the engine.

    An ABC so that a backend missing ``_engine`` fails when the kernel constructs it
    (``rainmaker plan`` included), not at its first connection.
    """

    database: SqlAlchemyDatabase | None = None
    _relay: asyncio.Task[None] | None = None
    # Set once the schema was seen at the code's heads: it does not go back on its own,
    # so health stops asking.
    _schema_at_head: bool = False

    @abstractmethod
    def _engine(self) -> tuple[AsyncEngine, EngineInfo]:
        """Build (without connecting) this backend's engine."""

    @property
    def connect_timeout(self) -> float:
        """Seconds the first round trip may take at start."""
        return 10.0

    async def connect(self) -> SqlAlchemyDatabase:
        """Open the engine and check one round trip (idempotent). The CLI uses this
        without starting the app; ``start`` uses it too."""
        if self.database is not None:
            return self.database
        engine, info = self._engine()
        database = SqlAlchemyDatabase(engine, info, instance=self.ctx.instance, log=self.ctx.log)
        database.outbox.lease = self.settings.outbox_lease
        try:
            await database.ping(self.connect_timeout)
        except UnavailableError as error:
            await engine.dispose()
            raise UnavailableError(
                f"cannot connect to {self._where(info)}: {_reason(error)}",
                pattern_id=self.ctx.instance,
                hint=self._connect_hint(info),
                cause=error.cause,
            ) from error
        self.database = database
        return database

    async def disconnect(self) -> None:
        """Close every pooled connection."""
        if self.database is not None:
            database, self.database = self.database, None
            await database.engine.dispose()

    def migrator(self) -> Migrator:
        """The migrations of every pattern on this database, in the app's start order."""
        if self.database is None:
            raise RuntimeError("connect() first")
        return Migrator(
            self.database,
            branches_on(self.ctx.app, self.ctx.instance),
            log=self.ctx.log,
            lock_timeout=self.settings.migration_lock_timeout,
        )

    @contextlib.asynccontextmanager
    async def _connected_runner(self) -> AsyncIterator[AlembicMigrationRunner]:
        await self.connect()
        try:
            yield AlembicMigrationRunner(self.migrator())
        finally:
            await self.disconnect()

    def dashboard_panels(self) -> Sequence[DashboardPanel]:
        """Each pattern's migrations on this database, read over the running pool."""
        return [migrations_panel(self.ctx.instance, self.migrator)]

    def migration_runner(self) -> AbstractAsyncContextManager[AlembicMigrationRunner]:
        """Connects (without starting the app) and runs every pattern's branch here."""
        return self._connected_runner()

    async def start(self) -> None:
        database = await self.connect()
        try:
            if self.settings.auto_migrate:
                await self.migrator().upgrade()
        except BaseException:
            await self.disconnect()
            raise
        self.ctx.services.register(Database, database)
        self._relay = asyncio.create_task(
            database.outbox.run(self.settings.outbox_poll_interval, self.ctx.log),
            name=f"rainmaker.outbox.{self.ctx.instance}",
        )
        self.ctx.log.info("database.started", backend=database.backend, target=database.info.target)

    async def stop(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay
            self._relay = None
        await self.disconnect()

    async def health(self) -> Health:
        """One round trip with its latency; down (with the reason) when it fails."""
        database = self.database
        if database is None:
            return Health.down(reason="not connected")
        details: dict[str, Any] = {"backend": database.backend, "target": database.info.target}
        try:
            latency = await database.ping(HEALTH_TIMEOUT)
        except UnavailableError as error:
            return Health.down(reason=error.message, **details)
        behind = await self._schema_behind()
        if behind:
            # Down, not degraded: readiness must stay 503 until the code's tables exist.
            return Health.down(
                reason=f"the schema is behind the code: {behind}; run `rainmaker db upgrade` "
                "(or wait for the process migrating now)",
                **details,
            )
        return Health.up(latency_ms=round(latency, 3), pool=database.pool_status(), **details)

    async def _schema_behind(self) -> str:
        """Which patterns' migrations are not at the code's heads ('' when none)."""
        if self._schema_at_head:
            return ""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                statuses = await self.migrator().status()
        except Exception as error:  # health never raises; the round trip above passed
            return f"the migration state could not be read ({type(error).__name__})"
        behind = [
            f"{item.branch.pattern_id} at {', '.join(item.current) or 'base'}, "
            f"head {', '.join(item.heads)}"
            for item in statuses
            if not item.up_to_date
        ]
        self._schema_at_head = not behind
        return "; ".join(behind)

    def _where(self, info: EngineInfo) -> str:
        return info.target

    def _connect_hint(self, info: EngineInfo) -> str:
        return "check the database settings"


class SqliteDatabaseModule(DatabaseModule[SqliteSettings]):
    """``database-sqlite``: one file next to the app."""

    def _engine(self) -> tuple[AsyncEngine, EngineInfo]:
        root = self.ctx.root
        engine, info = sqlite_engine(self.settings, root)
        Path(info.target).parent.mkdir(parents=True, exist_ok=True)
        return engine, info

    def _where(self, info: EngineInfo) -> str:
        return f"SQLite file {info.target}"

    def _connect_hint(self, info: EngineInfo) -> str:
        return (
            "check that the folder exists and is writable, and that no other program locks the file"
        )


class PostgresDatabaseModule(DatabaseModule[PostgresSettings]):
    """``database-postgres``: a PostgreSQL server through asyncpg."""

    @property
    def connect_timeout(self) -> float:
        return self.settings.connect_timeout

    def _engine(self) -> tuple[AsyncEngine, EngineInfo]:
        return postgres_engine(self.settings, self.ctx.config.name)

    def _where(self, info: EngineInfo) -> str:
        database = info.target.split("/", 1)[1]
        return f"PostgreSQL at host {info.host} port {info.port} (database {database})"

    def _connect_hint(self, info: EngineInfo) -> str:
        return (
            f"start PostgreSQL on {info.host}:{info.port} or correct the url setting; "
            "the connect_timeout setting bounds the wait"
        )


class MySQLDatabaseModule(DatabaseModule[MySQLSettings]):
    """``database-mysql``: a MySQL or MariaDB server through asyncmy."""

    @property
    def connect_timeout(self) -> float:
        return self.settings.connect_timeout

    def _engine(self) -> tuple[AsyncEngine, EngineInfo]:
        return mysql_engine(self.settings)

    async def connect(self) -> SqlAlchemyDatabase:
        """Connect (see :meth:`DatabaseModule.connect`), then refuse a server too old for
        ``SKIP LOCKED`` before anything relies on it."""
        if self.database is not None:
            return self.database
        database = await super().connect()
        dialect = database.engine.dialect
        problem = unsupported_server(
            is_mariadb=bool(getattr(dialect, "is_mariadb", False)),
            version=tuple(p for p in dialect.server_version_info or () if isinstance(p, int)),
        )
        if problem is not None:
            await self.disconnect()
            raise PatternError(
                f"{self._where(database.info)}: {problem}",
                pattern_id=self.ctx.instance,
                hint="upgrade the server, or use database-postgres or database-sqlite",
            )
        return database

    def _where(self, info: EngineInfo) -> str:
        database = info.target.split("/", 1)[1]
        url = make_url(self.settings.url).render_as_string(hide_password=True)
        return f"MySQL/MariaDB at host {info.host} port {info.port} (database {database}, {url})"

    def _connect_hint(self, info: EngineInfo) -> str:
        return (
            f"start MySQL or MariaDB on {info.host}:{info.port} or correct the url setting; "
            "the connect_timeout setting bounds the wait"
        )


def _reason(error: UnavailableError) -> str:
    """Why the first round trip failed, for a message that names the database itself."""
    return error.reason if isinstance(error, DatabaseUnavailableError) else error.message
