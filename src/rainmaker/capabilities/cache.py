"""The ``Cache`` capability: a key-value cache with expiry."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability


@runtime_checkable
class CacheBackend(Protocol):
    """Get / set / delete / incr / expire with TTLs in seconds."""

    async def get(self, key: str) -> Any | None: ...

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int: ...

    async def expire(self, key: str, ttl: float) -> None: ...


Cache: Capability[CacheBackend] = Capability(
    "Cache", CacheBackend, description="A key-value cache with expiry."
)
