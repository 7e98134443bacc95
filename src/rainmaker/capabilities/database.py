"""The ``Database`` capability: a shared SQL engine, sessions and cross-pattern transactions.

Importing this module does not import SQLAlchemy; the types below are for type checkers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


@runtime_checkable
class OutboxMessage(Protocol):
    """A committed outbox message as a relay handler receives it."""

    @property
    def id(self) -> int: ...
    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> Any: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def attempts(self) -> int: ...


@runtime_checkable
class TransactionalOutbox(Protocol):
    """Messages written inside a transaction and handed on only after it commits.

    ``add`` writes a message in the current transaction; ``handle`` registers the handler
    for a topic (the jobs pattern registers its enqueuer); ``relay`` hands committed,
    pending messages to their handlers and marks them done (the provider also runs it in
    the background after each commit). Delivery is at least once.
    """

    async def add(self, topic: str, payload: Mapping[str, Any] | list[Any] | str | int) -> int: ...

    def handle(self, topic: str, handler: Callable[[Any], Awaitable[None]]) -> None: ...

    async def relay(self, *, limit: int = ...) -> int: ...

    async def pending(self, topic: str | None = None) -> int: ...

    async def purge(self, older_than: timedelta) -> int: ...


@runtime_checkable
class SqlDatabase(Protocol):
    """One database instance shared by every pattern that requires it.

    ``transaction()`` binds one unit of work to the current task (nested blocks become
    savepoints); ``session()`` joins it when one is open (or opens its own that commits at
    the end of the block); ``on_commit`` defers a callback until the surrounding
    transaction commits. Both raise :class:`~rainmaker.UnavailableError` (HTTP 503) when
    the server cannot be reached or no connection frees up in time.
    """

    @property
    def instance(self) -> str:
        """The composition's name for this database."""
        ...

    @property
    def backend(self) -> str:
        """The SQL dialect: ``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MySQL, MariaDB)."""
        ...

    @property
    def engine(self) -> AsyncEngine:
        """The shared engine, for what sessions cannot do; prefer ``session()``."""
        ...

    @property
    def outbox(self) -> TransactionalOutbox: ...

    @property
    def in_transaction(self) -> bool:
        """Whether the current task has an open unit of work here."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def session(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def on_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None: ...

    async def lock(self, key: str) -> None:
        """Hold the lock named ``key`` until the current transaction commits or rolls back.

        The way to make "check a limit, then write" atomic across processes and replicas:
        take the lock first, then count, then insert, in one transaction. A second
        transaction taking the same key waits until the first has committed, so its count
        includes the first one's row::

            async with db.transaction() as session:
                await db.lock(f"projects:user:{user_id}")
                used = await session.scalar(select(func.count()).where(...))
                if used >= limit:
                    raise PlanLimitError(...)
                await session.execute(insert(projects).values(...))

        Keys are free-form strings scoped to this database; lock the narrowest thing the
        limit is about (the user, the organisation), not the table. Raises
        :class:`~rainmaker.PatternError` outside a transaction, and
        :class:`~rainmaker.UnavailableError` when the lock stays held past the
        database's statement (or busy) timeout. PostgreSQL uses a transaction-level
        advisory lock, MySQL/MariaDB ``GET_LOCK`` released after the commit, SQLite the
        write lock its immediate transactions already hold.
        """
        ...


Database: Capability[SqlDatabase] = Capability(
    "Database", SqlDatabase, description="A SQL database with shared pool and transactions."
)
