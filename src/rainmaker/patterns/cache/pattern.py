"""The two cache pattern declarations (light: no redis-py import)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.cache import Cache
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.cache.settings import MemoryCacheSettings, RedisCacheSettings

cache_memory: Pattern[MemoryCacheSettings] = Pattern(
    id="cache-memory",
    version="1.0.0",
    name="In-process cache",
    description="Bounded LRU cache with per-key expiry inside the app process; no server "
    "needed, not shared between processes. Same contract as cache-redis.",
    settings=MemoryCacheSettings,
    factory="rainmaker.patterns.cache.module:MemoryCacheModule",
    provides=[Cache],
    requires=[Tracing.optional()],
    examples=[{}, {"max_entries": 50_000, "default_ttl": 300}],
)

cache_redis: Pattern[RedisCacheSettings] = Pattern(
    id="cache-redis",
    version="1.0.0",
    name="Redis cache",
    description="Redis through a redis-py asyncio pool: namespaces, tags, cross-process "
    "stampede locks, and fail-open (misses, not errors) during an outage.",
    settings=RedisCacheSettings,
    factory="rainmaker.patterns.cache.module:RedisCacheModule",
    provides=[Cache],
    requires=[Tracing.optional()],
    examples=[
        {"url": "redis://127.0.0.1:6379/0"},
        {
            "url": "rediss://cache.internal:6380/1",
            "password": "${REDIS_PASSWORD}",
            "max_connections": 100,
            "fail_open": False,
            "default_ttl": 600,
        },
    ],
)
