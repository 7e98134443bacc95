"""The ``Cache`` capability: a namespaced key-value cache with expiry, tags and stampede control.

Every provider (``cache-memory``, ``cache-redis`` or a third party's) implements
:class:`CacheBackend` and passes the contract suite in
:mod:`rainmaker.testing.contracts.cache`, so switching providers is one line in a profile.

Semantics every provider honours:

- Keys live under ``<app>:<namespace>:``. :meth:`CacheBackend.namespaced` gives a view with
  its own namespace that shares the connection and settings: ``ctx.cache`` is already
  ``namespaced(ctx.instance)``, so a pattern can never collide with another pattern.
- TTLs are seconds (floats allowed, precision one millisecond); ``None`` means the provider's
  ``default_ttl`` (no expiry when that is unset).
- ``None`` is "no value": ``get`` returns ``None`` on a miss, and ``set(key, None)`` deletes.
- Values go through the provider's :class:`Serializer` (JSON unless configured otherwise), so
  what ``get`` returns is a copy, and JSON turns tuples into lists, as a server would.
- Counters made by ``incr`` are plain integers that ``get`` returns as ``int``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar, runtime_checkable

from rainmaker.kernel.capability import Capability

T = TypeVar("T")


@runtime_checkable
class Serializer(Protocol):
    """Turns cached values into bytes and back; ``json`` is the default, ``pickle`` opt-in.

    A custom serializer (msgpack, orjson, a schema-aware codec…) is any object with these
    two methods; name it in settings as ``serializer = "package.module:attribute"``.
    ``loads(dumps(v))`` must give back a value equal to ``v`` for the values you cache.
    """

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


@runtime_checkable
class CacheBackend(Protocol):
    """What a cache provider offers; all methods are coroutines except :meth:`namespaced`."""

    @property
    def namespace(self) -> str:
        """This view's namespace (the part after ``<app>:`` in every key)."""
        ...

    @property
    def prefix(self) -> str:
        """The full key prefix of this view: ``<app>:<namespace>:``."""
        ...

    def namespaced(self, name: str) -> CacheBackend:
        """A view with namespace ``name`` (letters, digits, ``_ . -``) over the same store."""
        ...

    async def get(self, key: str) -> Any | None:
        """The value under ``key``, or ``None`` when absent or expired."""
        ...

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        """Store ``value`` for ``ttl`` seconds, remembered under each of ``tags``."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; whether it was there."""
        ...

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Atomically add ``amount`` (a missing key counts as 0) and return the new value.

        ``ttl`` applies only when the counter has no expiry yet (i.e. when it is created),
        so a fixed window (rate limits) is not pushed back by every increment.
        """
        ...

    async def expire(self, key: str, ttl: float) -> bool:
        """Give ``key`` a new time to live; whether the key exists."""
        ...

    async def get_or_set(
        self,
        key: str,
        loader: Callable[[], Awaitable[T]],
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> T:
        """The cached value, or ``await loader()`` stored for ``ttl`` and returned.

        Stampede protection: while one caller runs the loader for ``key``, every other caller
        (in this process and, for a shared server, in other processes) waits and then reads
        the value it stored. A loader's exception reaches its callers and nothing is cached;
        a loader returning ``None`` is not cached.
        """
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every key of this namespace that starts with ``prefix``; how many."""
        ...

    async def invalidate_tags(self, *tags: str) -> int:
        """Remove every key of this namespace stored with any of ``tags``; how many."""
        ...

    async def clear(self) -> int:
        """Remove every key of this namespace (other namespaces are untouched); how many."""
        ...


Cache: Capability[CacheBackend] = Capability(
    "Cache",
    CacheBackend,
    version="1.0",
    description="A namespaced key-value cache with expiry, counters, tags and stampede control.",
)
