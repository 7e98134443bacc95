"""Both cache implementations pass the one Cache contract suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import structlog

from rainmaker.capabilities.cache import CacheBackend, Serializer
from rainmaker.patterns.cache.keyspace import Keyspace
from rainmaker.patterns.cache.memory import MemoryCache, MemoryStore
from rainmaker.patterns.cache.serializers import resolve_serializer
from rainmaker.testing.contracts.cache import CacheContract, CacheFactory
from rainmaker.testing.servers import require_server
from tests.patterns.cache.conftest import REDIS_HOST, REDIS_PORT, REDIS_URL


@pytest_asyncio.fixture
async def memory_factory(key_prefix: str) -> AsyncIterator[CacheFactory]:
    store = MemoryStore(max_entries=10_000)  # every client of one test shares the store

    async def make(*, serializer: str | Serializer = "json") -> CacheBackend:
        return MemoryCache(store, Keyspace(key_prefix, "shared"), resolve_serializer(serializer))

    yield make


@pytest_asyncio.fixture
async def redis_factory(key_prefix: str, redis_cleanup: None) -> AsyncIterator[CacheFactory]:
    require_server("Redis", REDIS_HOST, REDIS_PORT)
    from rainmaker.patterns.cache.redis import RedisCache, RedisLink
    from rainmaker.patterns.cache.settings import RedisCacheSettings

    # A command may wait out a loaded CI machine (1 s by default, meant for production).
    settings = RedisCacheSettings(url=REDIS_URL, fail_open=False, socket_timeout=5.0)
    links: list[RedisLink] = []

    async def make(*, serializer: str | Serializer = "json") -> CacheBackend:
        # A link per client: its own pool and connections, like another process.
        link = RedisLink(settings, instance="cache", app=key_prefix, log=structlog.get_logger())
        links.append(link)
        return RedisCache(link, Keyspace(key_prefix, "shared"), resolve_serializer(serializer))

    yield make
    for link in links:
        await link.close()


class TestCacheContract(CacheContract):
    """The contract, once per implementation."""

    @pytest.fixture(params=["memory", "redis"])
    def cache_factory(self, request: pytest.FixtureRequest) -> CacheFactory:
        factory: CacheFactory = request.getfixturevalue(f"{request.param}_factory")
        return factory
