"""The ``Database`` service: one shared engine, task-bound units of work and errors people read.

This is what ``ctx.database`` (and ``ctx.services.require(Database)``) returns to every
pattern that requires a database. Data access goes through :meth:`SqlAlchemyDatabase.session`,
which joins the task's open transaction, so the writes of several patterns commit or roll
back together::

    async with ctx.database.transaction():
        await ledger.transfer(a, b, 10)      # each uses `async with db.session() as s:`
        await audit.record("transfer", a, b)  # same transaction
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, NoReturn

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rainmaker import PatternError, UnavailableError
from rainmaker.patterns.database.engine import BEGIN_AT_FIRST_WRITE, EngineInfo, begin_pending
from rainmaker.patterns.database.errors import TransactionTaskError, as_unavailable
from rainmaker.patterns.database.mysql import NAMED_LOCKS
from rainmaker.patterns.database.outbox import Outbox
from rainmaker.patterns.database.unit_of_work import OnCommit, UnitOfWork, run_callback


class SqlAlchemyDatabase:
    """A database instance as the :class:`~rainmaker.capabilities.SqlDatabase` interface.

    ``instance`` is the composition's name for it, ``engine`` the shared
    :class:`~sqlalchemy.ext.asyncio.AsyncEngine` (for the rare raw use: prefer
    ``session()``), ``outbox`` the transactional outbox.
    """

    def __init__(self, engine: AsyncEngine, info: EngineInfo, *, instance: str, log: Any) -> None:
        self.engine = engine
        self.info = info
        self.instance = instance
        self._log = log
        self._current: ContextVar[UnitOfWork | None] = ContextVar(
            f"rainmaker.database.{instance}", default=None
        )
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # session() outside a transaction: on SQLite its transaction (and the write lock)
        # begins at its first write, so a read-only block neither takes the write lock nor
        # sends BEGIN; transaction() keeps taking it up front (see engine.sqlite_engine).
        self._block_sessions = (
            async_sessionmaker(
                engine.execution_options(**{BEGIN_AT_FIRST_WRITE: True}),
                expire_on_commit=False,
            )
            if info.backend == "sqlite"
            else self._sessions
        )
        self.outbox = Outbox(self)
        # SQLite, transactions begun IMMEDIATE: this process's writers queue here for the
        # write lock instead of in SQLite's busy handler, which sleeps and retries (1 ms
        # growing to 100 ms) so the lock sits free while waiters sleep. Other processes
        # still meet them at the lock itself.
        self._writers = (
            asyncio.Lock() if info.backend == "sqlite" and info.serialised_writes else None
        )

    @property
    def backend(self) -> str:
        """``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MySQL and MariaDB)."""
        return self.info.backend

    @property
    def in_transaction(self) -> bool:
        """Whether the current task has an open unit of work on this database."""
        return self._active() is not None

    # -- units of work -------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Open a unit of work bound to the current task, or a savepoint inside the open one.

        Commits when the block ends normally, rolls back when it raises. ``on_commit``
        callbacks run after the outer commit succeeded. Connection failures are raised as
        :class:`~rainmaker.UnavailableError` (HTTP 503).
        """
        unit = self._active()
        if unit is None:
            async with self._unit() as session:
                yield session
            return
        async with self._savepoint(unit) as session:
            yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The session of the current task's unit of work, or a new one-statement-group unit.

        Every pattern's data access uses this: inside ``transaction()`` it joins (no commit
        of its own); outside, it opens its own unit that commits at the end of the block.
        On SQLite that unit's transaction begins at its first write (reads before it see
        the latest commit, as under PostgreSQL's READ COMMITTED), so a read-only block
        takes no write lock; use ``transaction()`` (or ``lock()``) for a read the
        following write must be serialised with.
        """
        unit = self._active()
        if unit is None:
            async with self._unit(self._block_sessions) as session:
                yield session
            return
        try:
            yield unit.session
        except Exception as error:
            _reraise(self.translate(error), error)

    @asynccontextmanager
    async def independent_session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work of its own, even inside another (the outbox relay uses this)."""
        async with self._unit() as session:
            yield session

    def on_commit(self, callback: OnCommit) -> None:
        """Run ``callback`` (sync or async) after the current transaction commits.

        Dropped when the transaction (or the savepoint it was registered in) rolls back.
        A callback that raises is logged and does not affect the others: the data is
        already committed. Raises :class:`PatternError` outside a transaction.
        """
        unit = self._active()
        if unit is None:
            raise PatternError(
                "on_commit() called outside a transaction: there is no commit to wait for",
                pattern_id=self.instance,
                hint="call it inside `async with db.transaction():` or `db.session()`",
            )
        unit.add_callback(callback)

    async def lock(self, key: str) -> None:
        """Hold a lock named ``key`` until the current transaction ends (commit or rollback).

        Makes "check, then write" atomic across processes: every transaction that takes the
        same key before counting waits for the previous one to commit, so it sees that
        one's rows (``async with db.transaction(): await db.lock(f"projects:{user}")``,
        then count, then insert). PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit hash
        of the key; MySQL/MariaDB: ``GET_LOCK`` on the transaction's connection, released
        when the connection returns to the pool (after the commit); SQLite: the write lock
        that ``BEGIN IMMEDIATE`` took already serialises every writer. The wait is bounded
        by ``statement_timeout`` (PostgreSQL, MySQL) or ``busy_timeout`` (SQLite), then
        fails as :class:`~rainmaker.UnavailableError`.
        """
        if not isinstance(key, str) or not key:
            raise PatternError(
                f"lock() needs a non-empty string key, not {key!r}",
                pattern_id=self.instance,
                hint='name what the lock guards, e.g. db.lock(f"projects:user:{user_id}")',
            )
        unit = self._active()
        if unit is None:
            raise PatternError(
                "lock() called outside a transaction: the lock would end with the statement",
                pattern_id=self.instance,
                hint="call it inside `async with db.transaction():`, before the check it guards",
            )
        session = unit.session
        try:
            if self.backend == "postgresql":
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_number(key)}
                )
            elif self.backend == "mysql":
                await self._mysql_lock(session, key)
            else:
                if not self.info.serialised_writes:
                    raise PatternError(
                        "lock() on SQLite needs transactions that take the write lock up "
                        "front; this database begins them deferred",
                        pattern_id=self.instance,
                        hint='set begin = "immediate" (the default) on this database',
                    )
                # BEGIN IMMEDIATE now (a session() block begins it at its first write):
                # the write lock is held before the check this lock guards.
                connection = await session.connection()
                await connection.run_sync(begin_pending)
        except PatternError:
            raise
        except Exception as error:
            _reraise(self.translate(error), error)

    async def _mysql_lock(self, session: AsyncSession, key: str) -> None:
        connection = await session.connection()
        info = (await connection.get_raw_connection()).info
        name = (
            "rm:"
            + hashlib.blake2b(f"{self.info.target}:{key}".encode(), digest_size=24).hexdigest()
        )
        held: set[str] = info.setdefault(NAMED_LOCKS, set())
        if name in held:  # GET_LOCK nests; one RELEASE_ALL_LOCKS frees every level anyway
            return
        # Marked before asking, so a lock granted just as the wait times out is released too.
        held.add(name)
        wait = self.info.lock_wait or 31536000
        got = (
            await session.execute(
                text("SELECT GET_LOCK(:name, :wait)"), {"name": name, "wait": wait}
            )
        ).scalar()
        if got != 1:
            raise UnavailableError(
                f"database {self.info.target}: lock {key!r} was not free within {wait:g}s",
                pattern_id=self.instance,
                hint="another transaction holding the same key is slow or stuck; keep the "
                "work between lock() and commit short",
            )

    def _active(self) -> UnitOfWork | None:
        unit = self._current.get()
        if unit is None or unit.closed:
            return None
        task = asyncio.current_task()
        if unit.owner is not task:
            raise TransactionTaskError(
                "a transaction opened in one task was used from another task; one session "
                "cannot serve two tasks at once",
                pattern_id=self.instance,
                hint="await the work inside the transaction one step at a time, or give each "
                "concurrent task its own `async with db.transaction():`",
            )
        return unit

    @asynccontextmanager
    async def _unit(
        self, sessions: async_sessionmaker[AsyncSession] | None = None
    ) -> AsyncIterator[AsyncSession]:
        writers = self._writers if sessions is None else None
        queued = False
        # With a writer queue, the session begins at its first write like a session()
        # block, and that is forced below once the connection is out and the turn come.
        session = (self._block_sessions if writers is not None else sessions or self._sessions)()
        unit = UnitOfWork(session, asyncio.current_task())
        token = self._current.set(unit)
        try:
            await session.begin()
            if writers is not None:
                connection = await session.connection()  # the pool's wait comes first
                await self._queue_for_write_lock(writers)
                queued = True
                await connection.run_sync(begin_pending)  # BEGIN IMMEDIATE
            yield session
            await session.commit()
        except BaseException as error:
            await self._discard(session)
            if isinstance(error, Exception):
                _reraise(self.translate(error), error)
            raise
        finally:
            unit.closed = True
            self._current.reset(token)
            await self._close(session)
            if queued:
                assert writers is not None
                writers.release()
        for callback in unit.take_callbacks():
            try:
                await run_callback(callback)
            except Exception as error:
                self._log.error(
                    "database.on_commit_failed", callback=repr(callback), error=repr(error)
                )

    async def _queue_for_write_lock(self, writers: asyncio.Lock) -> None:
        """Wait (up to busy_timeout, as SQLite would) for this process's write turn."""
        try:
            async with asyncio.timeout(self.info.write_wait):
                await writers.acquire()
        except TimeoutError as error:
            raise UnavailableError(
                f"database {self.info.target}: the write lock was not free within "
                f"{self.info.write_wait:g}s (database is locked by another transaction "
                "of this process)",
                pattern_id=self.instance,
                hint="keep transactions short, or raise busy_timeout; a transaction that "
                "waits on another one of the same task never gets the lock",
                cause=error,
            ) from error

    @asynccontextmanager
    async def _savepoint(self, unit: UnitOfWork) -> AsyncIterator[AsyncSession]:
        try:
            nested = await unit.session.begin_nested()
        except Exception as error:
            _reraise(self.translate(error), error)
        unit.enter_savepoint()
        try:
            yield unit.session
        except BaseException as error:
            unit.leave_savepoint(committed=False)
            if nested.is_active:
                try:
                    await nested.rollback()
                except Exception as rollback_error:
                    self._log.warning(
                        "database.savepoint_rollback_failed", error=repr(rollback_error)
                    )
            if isinstance(error, Exception):
                _reraise(self.translate(error), error)
            raise
        try:
            await nested.commit()
        except Exception as error:
            unit.leave_savepoint(committed=False)
            _reraise(self.translate(error), error)
        unit.leave_savepoint(committed=True)

    async def _discard(self, session: AsyncSession) -> None:
        try:
            await session.rollback()
        except Exception as error:  # the connection may be gone; the server rolls back
            self._log.debug("database.rollback_failed", error=repr(error))

    async def _close(self, session: AsyncSession) -> None:
        try:
            await session.close()
        except Exception as error:
            self._log.debug("database.close_failed", error=repr(error))

    # -- errors and health -----------------------------------------------------------------

    def translate(self, error: Exception) -> Exception:
        """The outage form of ``error`` (503), or ``error`` itself."""
        if isinstance(error, sa_exc.TimeoutError):
            info = self.info
            overflow = f", max_overflow={info.max_overflow}" if info.backend != "sqlite" else ""
            return UnavailableError(
                f"database {info.target}: no free connection within {info.pool_timeout:g}s "
                f"(pool_size={info.pool_size}{overflow}); every connection is in use",
                pattern_id=self.instance,
                hint="raise pool_size or pool_timeout, or look for transactions held open "
                "while waiting on something slow",
                cause=error,
            )
        return as_unavailable(error, target=self.info.target, instance=self.instance) or error

    async def ping(self, timeout: float) -> float:
        """One round trip (``SELECT 1``) within ``timeout``; its latency in milliseconds.

        Raises :class:`~rainmaker.UnavailableError` naming the database and the reason.
        """
        began = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                async with self.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except TimeoutError as error:
            raise UnavailableError(
                f"database {self.info.target} did not answer within {timeout:g}s",
                pattern_id=self.instance,
                hint="check that the server is running and reachable",
                cause=error,
            ) from error
        except Exception as error:
            translated = self.translate(error)
            if isinstance(translated, UnavailableError):
                raise translated from error
            raise UnavailableError(
                f"database {self.info.target} failed a round trip: {type(error).__name__}: {error}",
                pattern_id=self.instance,
                cause=error,
            ) from error
        return (time.perf_counter() - began) * 1000

    def pool_status(self) -> dict[str, int]:
        """Connections in use and open, for health details."""
        pool: Any = self.engine.pool
        try:
            return {
                "in_use": int(pool.checkedout()),
                "open": int(pool.checkedin() + pool.checkedout()),
            }
        except AttributeError:  # a pool without counters (e.g. NullPool)
            return {}

    def __repr__(self) -> str:
        return f"SqlAlchemyDatabase({self.instance!r}, {self.backend}, {self.info.target!r})"


def _lock_number(key: str) -> int:
    """A signed 64-bit number for ``key`` (PostgreSQL's advisory lock space)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def _reraise(translated: Exception, error: Exception) -> NoReturn:
    """Raise ``translated`` caused by ``error``, or ``error`` itself unchanged."""
    if translated is error:
        raise error
    raise translated from error
