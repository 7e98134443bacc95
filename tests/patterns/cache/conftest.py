"""Fixtures for the cache patterns: a unique keyspace per test, real Redis on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import structlog

from rainmaker.testing.servers import require_server

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def key_prefix() -> str:
    """A key prefix no other test (or app on this Redis) uses."""
    return f"rmtest-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_server() -> str:
    """The Redis URL, after checking the server runs (skip locally, fail under CI)."""
    require_server("Redis", REDIS_HOST, REDIS_PORT)
    return REDIS_URL


@pytest_asyncio.fixture
async def redis_cleanup(key_prefix: str) -> AsyncIterator[None]:
    """Remove every key the test wrote under its prefix (data, tags, locks); no FLUSHALL."""
    yield
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        doomed = [key async for key in client.scan_iter(match=f"{key_prefix}[:#]*", count=1000)]
        if doomed:
            await client.unlink(*doomed)
    finally:
        await client.aclose()


@pytest.fixture
def log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("rainmaker.test")  # type: ignore[no-any-return]
