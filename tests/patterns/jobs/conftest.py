"""Fixtures for the jobs patterns: real Redis and RabbitMQ on loopback, unique namespaces."""

from __future__ import annotations

import uuid

import pytest

from rainmaker.testing.servers import require_server

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
AMQP_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"


@pytest.fixture
def namespace() -> str:
    """A prefix (Redis keys, RabbitMQ exchange and queues) no other test uses."""
    return f"rmtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redis_server() -> str:
    require_server("Redis", REDIS_HOST, REDIS_PORT)
    return REDIS_URL


@pytest.fixture
def rabbitmq_server() -> str:
    require_server("RabbitMQ", RABBIT_HOST, RABBIT_PORT)
    return AMQP_URL


async def drop_redis_namespace(prefix: str) -> None:
    """Delete every key under ``prefix`` (no FLUSHALL: the server may be shared)."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        doomed = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if doomed:
            await client.unlink(*doomed)
    finally:
        await client.aclose()


async def drop_rabbitmq_namespace(exchange: str, queues: list[str]) -> None:
    """Delete the exchange and queues a test declared."""
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    try:
        for name in queues:
            channel = await connection.channel()
            try:
                await channel.queue_delete(name)
            except Exception:
                pass
        channel = await connection.channel()
        try:
            await channel.exchange_delete(exchange)
        except Exception:
            pass
    finally:
        await connection.close()
