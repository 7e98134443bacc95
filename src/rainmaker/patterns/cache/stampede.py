"""Stampede protection: one loader per key at a time.

:class:`SingleFlight` deduplicates within one process: the first caller for a key runs the
work, concurrent callers await the same result (or exception). Across processes the Redis
backend adds a short lock key (see :mod:`rainmaker.patterns.cache.redis`): only the
process holding it loads; the others poll for the value it stores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SingleFlight:
    """Concurrent calls with the same key share one execution of ``work``."""

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future[Any]] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        """``await work()`` unless a call for ``key`` is in flight, whose outcome is shared."""
        flight = self._flights.get(key)
        if flight is not None:
            # shield: one waiter being cancelled must not cancel the shared result.
            result: T = await asyncio.shield(flight)
            return result
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value = await work()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                flight.cancel()
            else:
                flight.set_exception(exc)
                # Mark it retrieved so a flight nobody else awaited does not warn at exit.
                flight.exception()
            raise
        else:
            flight.set_result(value)
            return value
        finally:
            del self._flights[key]
