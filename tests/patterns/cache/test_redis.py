"""cache-redis beyond the contract: composed through the kernel, outages, start failures,
key layout and settings. Every test talks to the real Redis on 127.0.0.1:6379, through a
loopback proxy the test can cut when it needs an outage."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from structlog.testing import capture_logs

from rainmaker import Application, CompositionError, StartupError, Status, UnavailableError
from rainmaker.capabilities.cache import Cache
from rainmaker.kernel.secrets import secret_values
from rainmaker.patterns.cache.settings import RedisCacheSettings
from rainmaker.testing.harness import build_app
from rainmaker.testing.proxy import TcpProxy
from tests.patterns.cache.conftest import REDIS_HOST, REDIS_PORT

pytestmark = pytest.mark.redis


def redis_app(root: Path, key_prefix: str, port: int = REDIS_PORT, **settings: Any) -> Application:
    config = {
        "use": "cache-redis",
        "url": f"redis://127.0.0.1:{port}/0",
        "key_prefix": key_prefix,
        "connect_timeout": 0.5,
        "socket_timeout": 0.5,
        "retry_interval": 0.05,
        **settings,
    }
    return build_app({"cache": config}, root=root, name="cachetest")


@pytest_asyncio.fixture
async def proxy(redis_server: str, redis_cleanup: None) -> AsyncIterator[TcpProxy]:
    async with TcpProxy(REDIS_HOST, REDIS_PORT) as running:
        yield running


@pytest_asyncio.fixture
async def raw(redis_server: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server)
    yield client
    await client.aclose()


async def cache_status(app: Application) -> Status:
    return (await app.health()).instances[0].status


async def wait_for_status(app: Application, wanted: Status) -> None:
    """Poll health until ``wanted`` (a bounded number of tries, not a duration assert)."""
    for _ in range(100):
        if await cache_status(app) is wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"cache health never became {wanted}: {await app.health()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_composed_cache_stores_under_app_and_namespace(
    tmp_path: Path, key_prefix: str, redis_server: str, redis_cleanup: None, raw: Redis
) -> None:
    app = redis_app(tmp_path, key_prefix)
    async with app.running():
        cache = app.services.require(Cache)
        assert cache.prefix == f"{key_prefix}:shared:"
        await cache.set("user:1", {"a": 1}, ttl=60, tags=["users"])
        await cache.incr("hits")
        assert await raw.get(f"{key_prefix}:shared:user:1") == b'{"a":1}'
        assert 0 < await raw.pttl(f"{key_prefix}:shared:user:1") <= 60_000
        assert await raw.get(f"{key_prefix}:shared:hits") == b"1"
        tag_set = f"{key_prefix}#tag:shared:users"
        assert await raw.smembers(tag_set) == {f"{key_prefix}:shared:user:1".encode()}
        assert await raw.pttl(tag_set) > 0  # tag sets expire with their members
        health = (await app.health()).instances[0]
        assert health.status is Status.UP
        assert health.details["endpoint"] == f"127.0.0.1:{REDIS_PORT}"
        assert health.details["latency_ms"] >= 0


async def test_outage_fails_open_then_recovers_without_restart(
    tmp_path: Path, key_prefix: str, proxy: TcpProxy
) -> None:
    app = redis_app(tmp_path, key_prefix, port=proxy.port)
    async with app.running():
        cache = app.services.require(Cache)
        await cache.set("kept", "before the outage")
        assert await cache_status(app) is Status.UP

        with capture_logs() as logs:
            await proxy.stop()
            for i in range(30):
                assert await cache.get("kept") is None  # reads miss
                await cache.set(f"lost:{i}", i)  # writes are skipped, no error
                assert await cache.incr("counter") == 1  # a counter acts as new
                assert await cache.delete("kept") is False
            loaded = await cache.get_or_set("k", _value("from the loader"))
            assert loaded == "from the loader"
            assert await cache_status(app) is Status.DEGRADED
            detail = (await app.health()).instances[0].details
            assert f"127.0.0.1:{proxy.port}" in detail["reason"]
            assert (await app.health()).ready  # degraded still serves traffic

            await proxy.start()
            await wait_for_status(app, Status.UP)

        events = [entry["event"] for entry in logs]
        assert events.count("cache.unavailable") == 1  # rate-limited: not one per operation
        assert events.count("cache.recovered") == 1
        assert await cache.get("kept") == "before the outage"  # nothing was deleted meanwhile
        assert await cache.get("lost:0") is None
        await cache.set("after", "works")
        assert await cache.get("after") == "works"


async def test_outage_without_fail_open_raises_unavailable(
    tmp_path: Path, key_prefix: str, proxy: TcpProxy
) -> None:
    app = redis_app(tmp_path, key_prefix, port=proxy.port, fail_open=False)
    async with app.running():
        cache = app.services.require(Cache)
        await cache.set("k", "v")
        await proxy.stop()
        endpoint = f"127.0.0.1:{proxy.port}"
        for operation in (cache.get("k"), cache.set("k", 1), cache.incr("n"), cache.clear()):
            with pytest.raises(UnavailableError) as caught:
                # wait_for only guards against a hang; no duration is asserted.
                await asyncio.wait_for(operation, 10)
            assert endpoint in str(caught.value)
            assert caught.value.status == 503
        assert await cache_status(app) is Status.DOWN

        await proxy.start()
        await wait_for_status(app, Status.UP)
        assert await cache.get("k") == "v"


async def test_unreachable_at_start_fails_naming_the_endpoint(
    tmp_path: Path, key_prefix: str
) -> None:
    port = free_port()
    app = redis_app(tmp_path, key_prefix, port=port, fail_open=False, password="hunter2-secret")
    with pytest.raises(StartupError) as caught:
        await asyncio.wait_for(app.start(), 10)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "cannot connect to Redis" in message
    assert "hunter2" not in message
    assert app.state == "failed"


async def test_unreachable_at_start_with_fail_open_starts_degraded_and_recovers(
    tmp_path: Path, key_prefix: str, redis_server: str, redis_cleanup: None
) -> None:
    port = free_port()
    app = redis_app(tmp_path, key_prefix, port=port)
    with capture_logs() as logs:
        await asyncio.wait_for(app.start(), 10)
    try:
        assert any(entry["event"] == "cache.started_degraded" for entry in logs)
        cache = app.services.require(Cache)
        assert await cache.get("k") is None
        assert await cache_status(app) is Status.DEGRADED

        proxy = TcpProxy(REDIS_HOST, REDIS_PORT)
        proxy.port = port  # Redis "comes up" where the app expects it
        async with proxy:
            await wait_for_status(app, Status.UP)
            await cache.set("k", "v")
            assert await cache.get("k") == "v"
    finally:
        await app.stop()


async def test_stampede_across_two_processes_runs_one_loader(
    tmp_path: Path, key_prefix: str, redis_server: str, redis_cleanup: None, raw: Redis
) -> None:
    # Two apps with their own pools and in-process single-flight stand in for two processes.
    first, second = redis_app(tmp_path, key_prefix), redis_app(tmp_path, key_prefix)
    runs = 0

    async def loader() -> dict[str, int]:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.1)
        return {"answer": 42}

    async with first.running(), second.running():
        caches = [app.services.require(Cache) for app in (first, second)]
        results = await asyncio.gather(
            *(caches[i % 2].get_or_set("report", loader, ttl=60) for i in range(50))
        )
    assert results == [{"answer": 42}] * 50
    assert runs == 1
    assert await raw.exists(f"{key_prefix}#lock:shared:report") == 0  # lock released


async def test_waiters_take_over_when_the_lock_holder_dies(
    tmp_path: Path, key_prefix: str, redis_server: str, redis_cleanup: None, raw: Redis
) -> None:
    # A lock left by a crashed process expires after lock_ttl; a waiter then loads itself.
    await raw.set(f"{key_prefix}#lock:shared:orphan", "dead-process", px=300)
    app = redis_app(tmp_path, key_prefix, lock_ttl=5)
    async with app.running():
        cache = app.services.require(Cache)
        assert await cache.get_or_set("orphan", _value("loaded anyway")) == "loaded anyway"
        assert await cache.get("orphan") == "loaded anyway"


def test_url_is_validated_and_never_shows_its_password(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as caught:
        build_app(
            {
                "a": {"use": "cache-redis", "url": "http://user:hunter2@127.0.0.1:6379/0"},
                "b": {"use": "cache-redis", "url": "redis://:hunter2@127.0.0.1:6379/x"},
                "c": {"use": "cache-redis", "url": "redis://127.0.0.1:6379/0?timeout=1"},
                "d": {"use": "cache-memory", "namespace": "a:b", "serializer": "nope"},
            },
            root=tmp_path,
        )
    text = str(caught.value)
    assert "hunter2" not in text
    assert "redis:// or rediss://" in text
    assert "must be a number" in text
    assert "query parameters" in text
    assert "namespace" in text and "serializer 'nope'" in text


def test_passwords_are_secrets() -> None:
    settings = RedisCacheSettings(url="redis://:in-url-pw@127.0.0.1:6379/0", password="field-pw")
    assert set(secret_values(settings)) >= {"in-url-pw", "field-pw"}
    assert "field-pw" not in repr(settings)


def _value(value: Any) -> Any:
    async def load() -> Any:
        return value

    return load


@pytest.mark.parametrize(
    ("serializer", "stored_prefix"),
    [
        ("json", b'{"a":'),
        ("pickle", b"\x80"),
        ("rainmaker.testing.contracts.cache:CountingSerializer", b"counted:"),
    ],
)
async def test_serializer_setting_decides_the_stored_bytes(
    tmp_path: Path,
    key_prefix: str,
    redis_server: str,
    redis_cleanup: None,
    raw: Redis,
    serializer: str,
    stored_prefix: bytes,
) -> None:
    app = redis_app(tmp_path, key_prefix, serializer=serializer)
    async with app.running():
        cache = app.services.require(Cache)
        await cache.set("k", {"a": [1, 2]})
        assert await cache.get("k") == {"a": [1, 2]}
        stored = await raw.get(f"{key_prefix}:shared:k")
        assert stored is not None and stored.startswith(stored_prefix)
