"""The unit of work: one transaction shared by every pattern's data access in a task.

``async with db.transaction():`` opens a :class:`UnitOfWork` and binds it to the current
task through a :class:`~contextvars.ContextVar`; every ``db.session()`` in that task joins
it, nested ``transaction()`` blocks become savepoints, and ``on_commit`` callbacks are kept
per savepoint level so that a rolled-back savepoint drops its callbacks too.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

OnCommit = Callable[[], Awaitable[None] | None]


class UnitOfWork:
    """The open transaction of one task: its session and its pending ``on_commit`` callbacks.

    ``owner`` is the task that opened it. Child tasks inherit context variables, so they
    see this unit too; they must not use its session concurrently (see
    :meth:`~rainmaker.patterns.database.database.SqlAlchemyDatabase.session`).
    """

    __slots__ = ("_levels", "closed", "owner", "session")

    def __init__(self, session: AsyncSession, owner: asyncio.Task[Any] | None) -> None:
        self.session = session
        self.owner = owner
        self.closed = False
        self._levels: list[list[OnCommit]] = [[]]

    @property
    def depth(self) -> int:
        """0 in the outer transaction, 1 in the first savepoint, and so on."""
        return len(self._levels) - 1

    def add_callback(self, callback: OnCommit) -> None:
        """Remember ``callback`` at the innermost level."""
        self._levels[-1].append(callback)

    def enter_savepoint(self) -> None:
        self._levels.append([])

    def leave_savepoint(self, *, committed: bool) -> None:
        """Fold a released savepoint's callbacks into its parent; drop a rolled-back one's."""
        level = self._levels.pop()
        if committed:
            self._levels[-1].extend(level)

    def take_callbacks(self) -> list[OnCommit]:
        """Every callback of the outer transaction, in registration order (once)."""
        callbacks = self._levels[0]
        self._levels = [[]]
        return callbacks


async def run_callback(callback: OnCommit) -> None:
    """Call a sync or async ``on_commit`` callback."""
    result = callback()
    if inspect.isawaitable(result):
        await result
