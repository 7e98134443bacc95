"""Saga steps: calls to the payment provider that cannot join a database transaction are
paired with a compensation that undoes them if something later fails.

::

    async with Saga("signup", log=log) as saga:
        customer_id = await saga.step(create_at_provider, undo=delete_at_provider)
        await ledger.insert_customer(...)      # raises -> delete_at_provider runs
        undo = saga.detach()                   # success: hand the undo to the outer owner

A step's compensation receives the step's result. Compensations run in reverse order; one
that fails is logged and the others still run (each is idempotent at the provider). When the
surrounding transaction belongs to someone else (auth's signup), :meth:`Saga.detach` hands
the remaining compensations over, so a failure after this code returns (the commit itself,
another hook) still undoes the provider-side work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

Compensation = Callable[[], Awaitable[None]]


class Saga:
    """An ordered list of done steps and how to undo each."""

    def __init__(self, name: str, *, log: Any) -> None:
        self.name = name
        self.log = log
        self._undo: list[tuple[str, Compensation]] = []

    async def step(
        self,
        action: Callable[[], Awaitable[T]],
        *,
        undo: Callable[[T], Awaitable[None]],
        name: str = "",
    ) -> T:
        """Run ``action``; remember ``undo(result)`` for when a later step fails."""
        result = await action()

        async def compensation() -> None:
            await undo(result)

        self._undo.append((name or getattr(action, "__name__", "step"), compensation))
        return result

    async def compensate(self) -> None:
        """Undo every done step, newest first (each at most once)."""
        undo, self._undo = self._undo, []
        for name, compensation in reversed(undo):
            try:
                await compensation()
                self.log.info("payments.saga_compensated", saga=self.name, step=name)
            except Exception as error:
                # Nothing more can be done here; the log line is what an operator needs.
                self.log.error(
                    "payments.saga_compensation_failed",
                    saga=self.name,
                    step=name,
                    error=repr(error),
                )

    def detach(self) -> Compensation | None:
        """Hand the pending compensations to the caller (``None`` when there are none)."""
        if not self._undo:
            return None
        pending = Saga(self.name, log=self.log)
        pending._undo, self._undo = self._undo, []
        return pending.compensate

    async def __aenter__(self) -> Saga:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            await self.compensate()
