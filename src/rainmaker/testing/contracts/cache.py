"""The ``Cache`` contract: behaviour every :class:`~rainmaker.capabilities.cache.CacheBackend`
provider must show. ``cache-memory`` and ``cache-redis`` both run it; so can yours.

How to run it against your own backend: subclass :class:`CacheContract` in a test module and
define one fixture, ``cache_factory``, that returns a :class:`CacheFactory`::

    import pytest_asyncio
    from rainmaker.testing.contracts.cache import CacheContract, CacheFactory

    class TestMyCache(CacheContract):
        @pytest_asyncio.fixture
        async def cache_factory(self) -> AsyncIterator[CacheFactory]:
            clients = []
            prefix = f"test-{uuid.uuid4().hex[:8]}"  # a keyspace no other test uses

            async def make(*, serializer: str | Serializer = "json") -> CacheBackend:
                client = await MyCache.connect(key_prefix=prefix, serializer=serializer)
                clients.append(client)
                return client

            yield make
            for client in clients:          # leave the server as you found it
                await client.clear()
                await client.close()

Every call of the factory must return a *new client* (its own connection, for a server) of
the *same store and key prefix*, in the same default namespace: the contract uses two
clients to check that values, counters and stampede protection hold across clients (the way
two processes share a server). The factory is responsible for cleaning up the keys it
creates (namespaces ``contract-a`` and ``contract-b`` are used besides the default one).

The tests need pytest-asyncio; they are marked explicitly so they also run outside
``asyncio_mode = "auto"``. Timings use generous margins and nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable
from typing import Any, Protocol

import pytest
import pytest_asyncio

from rainmaker.capabilities.cache import CacheBackend, Serializer

__all__ = ["CacheContract", "CacheFactory", "CountingSerializer"]


class CacheFactory(Protocol):
    """Makes a new client of the test's store; see the module docstring."""

    def __call__(self, *, serializer: str | Serializer = "json") -> Awaitable[CacheBackend]: ...


class CountingSerializer:
    """A custom serializer (JSON inside a tagged envelope) that counts its calls."""

    def __init__(self) -> None:
        self.dumped = 0
        self.loaded = 0

    def dumps(self, value: Any) -> bytes:
        self.dumped += 1
        return b"counted:" + json.dumps(value).encode()

    def loads(self, data: bytes) -> Any:
        self.loaded += 1
        if not data.startswith(b"counted:"):
            raise ValueError(f"not written by CountingSerializer: {data[:20]!r}")
        return json.loads(data[len(b"counted:") :])


class _Loader:
    """A loader that counts its runs and holds until released, to make callers overlap."""

    def __init__(self, value: Any, *, delay: float = 0.05) -> None:
        self.value = value
        self.delay = delay
        self.runs = 0

    async def __call__(self) -> Any:
        self.runs += 1
        await asyncio.sleep(self.delay)
        return self.value


@pytest.mark.asyncio
class CacheContract:
    """The contract tests; subclass and provide a ``cache_factory`` fixture."""

    @pytest_asyncio.fixture
    async def cache(self, cache_factory: CacheFactory) -> CacheBackend:
        """A client in the default namespace of the test's (empty) keyspace."""
        return await cache_factory()

    # -- basic operations ------------------------------------------------------------------

    async def test_missing_key_is_none(self, cache: CacheBackend) -> None:
        assert await cache.get("absent") is None

    async def test_values_round_trip(self, cache: CacheBackend) -> None:
        value = {"name": "Zoë", "n": 3, "ratio": 0.25, "ok": True, "none": None, "xs": [1, "2"]}
        await cache.set("user:1", value)
        await cache.set("text", "hello")
        await cache.set("zero", 0)
        await cache.set("float", 1.5)
        assert await cache.get("user:1") == value
        assert await cache.get("text") == "hello"
        assert await cache.get("zero") == 0
        assert await cache.get("float") == 1.5

    async def test_get_returns_a_copy(self, cache: CacheBackend) -> None:
        value = {"items": [1]}
        await cache.set("k", value)
        value["items"].append(2)
        fetched = await cache.get("k")
        assert fetched is not None
        fetched["items"].append(3)
        assert await cache.get("k") == {"items": [1]}

    async def test_overwrite_replaces(self, cache: CacheBackend) -> None:
        await cache.set("k", "one")
        await cache.set("k", "two")
        assert await cache.get("k") == "two"

    async def test_set_none_deletes(self, cache: CacheBackend) -> None:
        await cache.set("k", "v")
        await cache.set("k", None)
        assert await cache.get("k") is None

    async def test_delete_says_whether_key_existed(self, cache: CacheBackend) -> None:
        await cache.set("k", "v")
        assert await cache.delete("k") is True
        assert await cache.get("k") is None
        assert await cache.delete("k") is False

    async def test_invalid_keys_and_ttls_are_rejected(self, cache: CacheBackend) -> None:
        with pytest.raises(ValueError, match="non-empty"):
            await cache.set("", "v")
        with pytest.raises(ValueError, match="ttl"):
            await cache.set("k", "v", ttl=0)
        with pytest.raises(ValueError, match="ttl"):
            await cache.expire("k", -1)
        with pytest.raises(TypeError, match="list of strings"):
            await cache.set("k", "v", tags="solo")

    async def test_values_are_shared_between_clients(self, cache_factory: CacheFactory) -> None:
        first, second = await cache_factory(), await cache_factory()
        await first.set("shared", [1, 2])
        assert await second.get("shared") == [1, 2]

    # -- expiry ----------------------------------------------------------------------------

    async def test_ttl_expires_value(self, cache: CacheBackend) -> None:
        await cache.set("short", "v", ttl=0.3)
        await cache.set("long", "v", ttl=60)
        await cache.set("forever", "v")
        assert await cache.get("short") == "v"
        await asyncio.sleep(0.45)
        assert await cache.get("short") is None
        assert await cache.get("long") == "v"
        assert await cache.get("forever") == "v"

    async def test_expire_sets_a_new_ttl(self, cache: CacheBackend) -> None:
        await cache.set("k", "v")
        await cache.set("kept", "v", ttl=0.3)
        assert await cache.expire("k", 0.3) is True
        assert await cache.expire("kept", 60) is True
        assert await cache.expire("absent", 1) is False
        await asyncio.sleep(0.45)
        assert await cache.get("k") is None
        assert await cache.get("kept") == "v"

    # -- counters --------------------------------------------------------------------------

    async def test_incr_counts_from_zero(self, cache: CacheBackend) -> None:
        assert await cache.incr("hits") == 1
        assert await cache.incr("hits", 5) == 6
        assert await cache.incr("hits", -2) == 4
        assert await cache.get("hits") == 4

    async def test_incr_ttl_is_set_when_the_counter_is_created(self, cache: CacheBackend) -> None:
        # A fixed window: later increments must not push the expiry back.
        await cache.incr("window", ttl=0.4)
        await asyncio.sleep(0.25)
        assert await cache.incr("window", ttl=0.4) == 2
        await asyncio.sleep(0.25)
        assert await cache.get("window") is None
        assert await cache.incr("window", ttl=0.4) == 1

    async def test_incr_on_a_non_counter_is_a_type_error(self, cache: CacheBackend) -> None:
        await cache.set("name", "alice")
        with pytest.raises(TypeError, match="counter"):
            await cache.incr("name")

    async def test_incr_is_atomic_under_concurrency(self, cache_factory: CacheFactory) -> None:
        clients = [await cache_factory(), await cache_factory()]
        results = await asyncio.gather(*(clients[i % 2].incr("counter") for i in range(200)))
        assert sorted(results) == list(range(1, 201))
        assert await clients[0].get("counter") == 200

    # -- namespaces ------------------------------------------------------------------------

    async def test_namespaces_isolate_keys(self, cache: CacheBackend) -> None:
        a, b = cache.namespaced("contract-a"), cache.namespaced("contract-b")
        assert a.namespace == "contract-a" and a.prefix.endswith(":contract-a:")
        assert a.prefix.split(":")[0] == cache.prefix.split(":")[0]  # same app prefix
        await a.set("k", "from a")
        await b.set("k", "from b")
        await cache.set("k", "from default")
        assert await a.get("k") == "from a"
        assert await b.get("k") == "from b"
        await a.incr("n")
        assert await b.get("n") is None
        assert await a.clear() == 2
        assert await a.get("k") is None
        assert await b.get("k") == "from b"
        assert await cache.get("k") == "from default"

    async def test_namespace_names_cannot_overlap(self, cache: CacheBackend) -> None:
        with pytest.raises(ValueError, match="namespace"):
            cache.namespaced("a:b")
        with pytest.raises(ValueError, match="namespace"):
            cache.namespaced("")

    # -- get_or_set ------------------------------------------------------------------------

    async def test_get_or_set_loads_once_then_reads(self, cache: CacheBackend) -> None:
        loader = _Loader({"v": 1}, delay=0)
        assert await cache.get_or_set("k", loader, ttl=60) == {"v": 1}
        assert await cache.get_or_set("k", loader, ttl=60) == {"v": 1}
        assert loader.runs == 1
        assert await cache.get("k") == {"v": 1}

    async def test_get_or_set_stampede_runs_one_loader(self, cache_factory: CacheFactory) -> None:
        clients = [await cache_factory(), await cache_factory()]
        loader = _Loader(["expensive"], delay=0.1)
        results = await asyncio.gather(
            *(clients[i % 2].get_or_set("hot", loader, ttl=60) for i in range(50))
        )
        assert results == [["expensive"]] * 50
        assert loader.runs == 1

    async def test_get_or_set_error_reaches_callers_and_is_not_cached(
        self, cache: CacheBackend
    ) -> None:
        runs = 0

        async def failing() -> str:
            nonlocal runs
            runs += 1
            await asyncio.sleep(0.02)
            raise RuntimeError("backend down")

        outcomes = await asyncio.gather(
            *(cache.get_or_set("k", failing) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(o, RuntimeError) for o in outcomes)
        assert runs == 1
        assert await cache.get("k") is None
        assert await cache.get_or_set("k", _Loader("recovered", delay=0)) == "recovered"

    async def test_get_or_set_does_not_cache_none(self, cache: CacheBackend) -> None:
        loader = _Loader(None, delay=0)
        assert await cache.get_or_set("k", loader) is None
        assert await cache.get_or_set("k", loader) is None
        assert loader.runs == 2

    async def test_get_or_set_respects_ttl_and_tags(self, cache: CacheBackend) -> None:
        await cache.get_or_set("brief", _Loader("v", delay=0), ttl=0.3)
        await cache.get_or_set("tagged", _Loader("v", delay=0), tags=["t"])
        assert await cache.invalidate_tags("t") == 1
        await asyncio.sleep(0.45)
        assert await cache.get("brief") is None
        assert await cache.get("tagged") is None

    # -- invalidation ----------------------------------------------------------------------

    async def test_delete_prefix(self, cache: CacheBackend) -> None:
        other = cache.namespaced("contract-a")
        for key in ("user:1", "user:2", "user:10", "users", "team:1"):
            await cache.set(key, key)
        await other.set("user:1", "other namespace")
        assert await cache.delete_prefix("user:") == 3
        assert await cache.get("user:1") is None
        assert await cache.get("users") == "users"
        assert await cache.get("team:1") == "team:1"
        assert await other.get("user:1") == "other namespace"

    async def test_delete_prefix_is_literal(self, cache: CacheBackend) -> None:
        await cache.set("a*b", 1)
        await cache.set("axb", 2)
        assert await cache.delete_prefix("a*") == 1
        assert await cache.get("axb") == 2

    async def test_invalidate_tags(self, cache: CacheBackend) -> None:
        other = cache.namespaced("contract-a")
        await cache.set("p1", "v", tags=["product:1", "catalog"])
        await cache.set("p2", "v", tags=["product:2", "catalog"])
        await cache.set("p3", "v", tags=["product:3"])
        await cache.set("plain", "v")
        await other.set("p1", "v", tags=["catalog"])
        assert await cache.invalidate_tags("catalog") == 2
        assert await cache.get("p1") is None and await cache.get("p2") is None
        assert await cache.get("p3") == "v" and await cache.get("plain") == "v"
        assert await other.get("p1") == "v"
        assert await cache.invalidate_tags("product:3", "product:9") == 1
        assert await cache.invalidate_tags("catalog") == 0
        assert await cache.invalidate_tags() == 0

    async def test_clear_removes_the_namespace(self, cache: CacheBackend) -> None:
        await cache.set("a", 1, tags=["t"])
        await cache.incr("b")
        assert await cache.clear() == 2
        assert await cache.get("a") is None and await cache.get("b") is None
        await cache.set("a", 2)
        assert await cache.invalidate_tags("t") == 0  # the tag went with the namespace

    # -- serialization ---------------------------------------------------------------------

    async def test_json_is_the_default(self, cache: CacheBackend) -> None:
        await cache.set("k", (1, 2))
        assert await cache.get("k") == [1, 2]  # JSON has no tuples, as any server would say
        with pytest.raises(TypeError, match="JSON"):
            await cache.set("k", {1, 2})

    async def test_pickle_is_opt_in(self, cache_factory: CacheFactory) -> None:
        cache = await cache_factory(serializer="pickle")
        value = {"when": dt.datetime(2026, 1, 2, 3, 4, 5), "pair": (1, 2), "set": {3}}
        await cache.set("k", value)
        assert await cache.get("k") == value
        assert await cache.incr("n") == 1 and await cache.get("n") == 1

    async def test_custom_serializer(self, cache_factory: CacheFactory) -> None:
        serializer = CountingSerializer()
        cache = await cache_factory(serializer=serializer)
        await cache.set("k", {"a": 1})
        assert await cache.get("k") == {"a": 1}
        assert await cache.get_or_set("l", _Loader("x", delay=0)) == "x"
        assert serializer.dumped == 2 and serializer.loaded == 1
        # Values written by one serializer are read by a client configured the same way.
        json_client = await cache_factory()
        with pytest.raises(ValueError):
            await json_client.get("k")
