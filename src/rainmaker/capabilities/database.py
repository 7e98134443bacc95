"""The ``Database`` capability: a shared SQL engine, sessions and cross-pattern transactions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability


@runtime_checkable
class SqlDatabase(Protocol):
    """One database instance shared by every pattern that requires it.

    ``transaction()`` binds one unit of work to the current task; ``session()`` joins it
    when one is open (or opens its own); ``on_commit`` defers a callback until the
    surrounding transaction commits.
    """

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    def session(self) -> AbstractAsyncContextManager[Any]: ...

    def on_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None: ...


Database: Capability[SqlDatabase] = Capability(
    "Database", SqlDatabase, description="A SQL database with shared pool and transactions."
)
