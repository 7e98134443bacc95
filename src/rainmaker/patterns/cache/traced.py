"""Spans around cache operations, registered instead of the cache when tracing is on.

:class:`TracedCache` wraps any :class:`~rainmaker.capabilities.cache.CacheBackend` view:
one ``cache.<operation>`` span per call, with the backend, the instance and the
namespace, and for reads whether they hit. Never the key (it may carry an email or a
token) nor a value. Views made by :meth:`TracedCache.namespaced` are traced too. With
tracing off the module registers the bare cache: this file costs nothing then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from rainmaker.capabilities.cache import CacheBackend
from rainmaker.capabilities.tracing import AttributeValue, SpanTracer

T = TypeVar("T")


class TracedCache:
    """A :class:`CacheBackend` that times each call of ``inner`` as a span."""

    __slots__ = ("_attributes", "_backend", "_inner", "_instance", "_tracer")

    def __init__(
        self, inner: CacheBackend, tracer: SpanTracer, *, backend: str, instance: str
    ) -> None:
        self._inner = inner
        self._tracer = tracer
        self._backend = backend
        self._instance = instance
        self._attributes: dict[str, AttributeValue] = {
            "cache.backend": backend,
            "cache.namespace": inner.namespace,
            "rainmaker.instance": instance,
        }

    @property
    def inner(self) -> CacheBackend:
        """The cache view this one traces."""
        return self._inner

    @property
    def namespace(self) -> str:
        return self._inner.namespace

    @property
    def prefix(self) -> str:
        return self._inner.prefix

    def namespaced(self, name: str) -> TracedCache:
        return TracedCache(
            self._inner.namespaced(name),
            self._tracer,
            backend=self._backend,
            instance=self._instance,
        )

    def _span(self, operation: str) -> Any:
        return self._tracer.span(
            f"cache.{operation}",
            {**self._attributes, "cache.operation": operation},
            kind="client",
        )

    async def get(self, key: str) -> Any | None:
        with self._span("get") as span:
            value = await self._inner.get(key)
            span.set_attribute("cache.hit", value is not None)
            return value

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        with self._span("set"):
            await self._inner.set(key, value, ttl=ttl, tags=tags)

    async def delete(self, key: str) -> bool:
        with self._span("delete") as span:
            found = await self._inner.delete(key)
            span.set_attribute("cache.found", found)
            return found

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        with self._span("incr"):
            return await self._inner.incr(key, amount, ttl=ttl)

    async def expire(self, key: str, ttl: float) -> bool:
        with self._span("expire") as span:
            found = await self._inner.expire(key, ttl)
            span.set_attribute("cache.found", found)
            return found

    async def get_or_set(
        self,
        key: str,
        loader: Callable[[], Awaitable[T]],
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> T:
        with self._span("get_or_set") as span:
            loaded = False

            async def load() -> T:
                nonlocal loaded
                loaded = True
                return await loader()

            value = await self._inner.get_or_set(key, load, ttl=ttl, tags=tags)
            # A caller that waited for another's loader reads what it stored: a hit.
            span.set_attribute("cache.hit", not loaded)
            return value

    async def delete_prefix(self, prefix: str) -> int:
        with self._span("delete_prefix") as span:
            removed = await self._inner.delete_prefix(prefix)
            span.set_attribute("cache.removed", removed)
            return removed

    async def invalidate_tags(self, *tags: str) -> int:
        with self._span("invalidate_tags") as span:
            removed = await self._inner.invalidate_tags(*tags)
            span.set_attribute("cache.removed", removed)
            return removed

    async def clear(self) -> int:
        with self._span("clear") as span:
            removed = await self._inner.clear()
            span.set_attribute("cache.removed", removed)
            return removed

    def __repr__(self) -> str:
        return f"TracedCache({self._inner!r})"
