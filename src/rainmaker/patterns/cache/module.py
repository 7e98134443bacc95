"""The running cache modules: build the store, check the server, register ``Cache``.

``cache-memory`` needs nothing to start. ``cache-redis`` opens its pool and proves Redis
answers within ``connect_timeout``; when it does not, start fails naming ``host:port`` —
or, with ``fail_open``, the app starts with the cache degraded (reads miss) and the cache
recovers by itself once Redis is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rainmaker import Health, Module, UnavailableError
from rainmaker.capabilities.cache import Cache, CacheBackend
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.cache.keyspace import Keyspace
from rainmaker.patterns.cache.memory import MemoryCache, MemoryStore
from rainmaker.patterns.cache.serializers import resolve_serializer
from rainmaker.patterns.cache.settings import CacheSettings, MemoryCacheSettings, RedisCacheSettings

if TYPE_CHECKING:
    from rainmaker import AppContext
    from rainmaker.patterns.cache.redis import RedisCache, RedisLink


def keyspace_for(settings: CacheSettings, app_name: str) -> Keyspace:
    """The registered service's keyspace: ``<key_prefix or app>:<namespace>:``."""
    return Keyspace(settings.key_prefix or app_name, settings.namespace)


def register_cache(ctx: AppContext, cache: CacheBackend, *, backend: str) -> None:
    """Register ``cache`` as ``Cache``; wrapped in spans only when tracing is on."""
    tracer = ctx.services.get(Tracing)
    if tracer is not None and tracer.enabled:
        from rainmaker.patterns.cache.traced import TracedCache

        cache = TracedCache(cache, tracer, backend=backend, instance=ctx.instance)
    ctx.services.register(Cache, cache)


class MemoryCacheModule(Module[MemoryCacheSettings]):
    """``cache-memory``: an in-process LRU; always up."""

    cache: MemoryCache | None = None

    async def start(self) -> None:
        store = MemoryStore(self.settings.max_entries)
        self.cache = MemoryCache(
            store,
            keyspace_for(self.settings, self.ctx.config.name),
            resolve_serializer(self.settings.serializer),
            default_ttl=self.settings.default_ttl,
        )
        register_cache(self.ctx, self.cache, backend="memory")
        self.ctx.log.info("cache.started", backend="memory", prefix=self.cache.prefix)

    async def stop(self) -> None:
        self.cache = None

    async def health(self) -> Health:
        if self.cache is None:
            return Health.down(reason="not started")
        store = self.cache.store
        return Health.up(
            backend="memory",
            entries=len(store),
            max_entries=store.max_entries,
            evictions=store.evictions,
            hits=store.hits,
            misses=store.misses,
        )


class RedisCacheModule(Module[RedisCacheSettings]):
    """``cache-redis``: Redis through a redis-py asyncio pool (redis-py imported on build)."""

    cache: RedisCache | None = None
    _link: RedisLink

    async def start(self) -> None:
        # Imported on start, not at module level: listing patterns, `rainmaker plan` and
        # apps that never start this pattern do not import redis-py.
        from rainmaker.patterns.cache.redis import RedisCache, RedisLink

        settings = self.settings
        link = RedisLink(
            settings, instance=self.ctx.instance, app=self.ctx.config.name, log=self.ctx.log
        )
        try:
            latency = await link.ping(settings.connect_timeout)
        except UnavailableError as error:
            if not settings.fail_open:
                await link.close()
                raise UnavailableError(
                    f"cannot connect to Redis at {link.endpoint} within "
                    f"{settings.connect_timeout:g}s ({link.outage.last_error})",
                    pattern_id=self.ctx.instance,
                    hint=f"start Redis on {link.endpoint} or fix the url setting; with "
                    "fail_open = true the app starts with the cache degraded instead",
                    cause=error.cause,
                ) from error
            self.ctx.log.warning(
                "cache.started_degraded",
                endpoint=link.endpoint,
                error=link.outage.last_error,
                reason="fail_open is on: reads miss and writes are skipped until Redis answers",
            )
            latency = None
        cache = RedisCache(
            link,
            keyspace_for(settings, self.ctx.config.name),
            resolve_serializer(settings.serializer),
            default_ttl=settings.default_ttl,
        )
        self.cache = cache
        self._link = link
        register_cache(self.ctx, cache, backend="redis")
        self.ctx.log.info(
            "cache.started",
            backend="redis",
            endpoint=link.endpoint,
            prefix=cache.prefix,
            latency_ms=None if latency is None else round(latency, 3),
        )

    async def stop(self) -> None:
        if self.cache is not None:
            self.cache = None
            await self._link.close()

    async def health(self) -> Health:
        """PING round trip; degraded (fail_open) or down when Redis does not answer."""
        if self.cache is None:
            return Health.down(reason="not started")
        link = self._link
        details = {
            "backend": "redis",
            "endpoint": link.endpoint,
            "fail_open": link.fail_open,
            "hits": link.hits,
            "misses": link.misses,
        }
        try:
            latency = await link.ping(self.settings.socket_timeout)
        except UnavailableError as error:
            outage = link.outage
            details.update(
                reason=error.message,
                failed_operations=outage.failures,
            )
            return Health.degraded(**details) if link.fail_open else Health.down(**details)
        return Health.up(latency_ms=round(latency, 3), **details)
