"""cache-memory beyond the contract: LRU bounds, composed through the kernel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rainmaker import Status
from rainmaker.capabilities.cache import Cache
from rainmaker.patterns.cache.keyspace import Keyspace
from rainmaker.patterns.cache.memory import MemoryCache, MemoryStore
from rainmaker.patterns.cache.serializers import JsonSerializer
from rainmaker.testing.harness import build_app


def memory_cache(max_entries: int) -> MemoryCache:
    return MemoryCache(MemoryStore(max_entries), Keyspace("app", "shared"), JsonSerializer())


async def test_least_recently_used_entry_is_evicted() -> None:
    cache = memory_cache(3)
    for key in "abc":
        await cache.set(key, key)
    assert await cache.get("a") == "a"  # a is now the most recently used
    await cache.set("d", "d")
    assert await cache.get("b") is None
    assert [await cache.get(k) for k in "acd"] == ["a", "c", "d"]
    assert cache.store.evictions == 1
    assert len(cache.store) == 3


async def test_bound_is_shared_by_namespaces_and_eviction_forgets_tags() -> None:
    cache = memory_cache(2)
    other = cache.namespaced("other")
    await cache.set("a", 1, tags=["t"])
    await other.set("b", 2)
    await other.set("c", 3)  # evicts cache's "a"
    assert await cache.get("a") is None
    assert await cache.invalidate_tags("t") == 0
    assert len(cache.store) == 2


async def test_overwrite_drops_old_tags_and_counters_refresh_recency() -> None:
    cache = memory_cache(2)
    await cache.set("k", 1, tags=["old"])
    await cache.set("k", 2, tags=["new"])
    assert await cache.invalidate_tags("old") == 0
    assert await cache.get("k") == 2
    await cache.incr("n")
    await cache.incr("k2")  # evicts k (least recently used), not the counter n
    await cache.incr("n")
    await cache.set("x", 0)  # evicts k2
    assert await cache.get("n") == 2 and await cache.get("k") is None


async def test_expired_entries_do_not_count_as_deleted() -> None:
    cache = memory_cache(10)
    await cache.set("k", "v", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await cache.delete("k") is False
    assert await cache.delete_prefix("") == 0


async def test_composed_with_default_ttl_and_health(tmp_path: Path) -> None:
    app = build_app(
        {"cache": {"use": "cache-memory", "max_entries": 2, "default_ttl": 0.2}},
        root=tmp_path,
        name="memapp",
    )
    async with app.running():
        cache = app.services.require(Cache)
        assert cache.prefix == "memapp:shared:"
        await cache.set("a", 1)
        await cache.set("b", 2)
        await cache.set("c", 3)
        health = (await app.health()).instances[0]
        assert health.status is Status.UP
        assert health.details["entries"] == 2 and health.details["evictions"] == 1
        await asyncio.sleep(0.35)
        assert await cache.get("c") is None  # default_ttl applied


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryStore(0)
