"""Benchmark: cache get/set through ``cache-redis`` against raw redis-py, same server.

Both sides talk to the same Redis through the same kind of pool (``BlockingConnectionPool``
with the pattern's default size and timeouts) and store the same value. The raw side sends
bytes encoded once up front (no serialization at all); the cache side goes through
everything an app gets: the composed pattern, key namespacing, JSON serialization on every
call and the outage guard.

Many short rounds are interleaved (raw then cache, then cache then raw, ...) so the noise of
a shared machine hits both sides alike. Reported: the median ops/s of each side and the
median of the per-round ratios (cache / raw of the same round).

    .venv/bin/python bench/cache/run.py [--rounds 40] [--ops 600] [--concurrency 1 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis
import structlog
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rainmaker.capabilities.cache import Cache, CacheBackend
from rainmaker.patterns.cache.settings import RedisCacheSettings
from rainmaker.testing.harness import build_app

URL = "redis://127.0.0.1:6379/0"
VALUE = {"id": 12345, "name": "Widget", "price": 9.99, "tags": ["a", "b"], "active": True}

Op = Callable[[int, int], Awaitable[Any]]


async def measure(workers: int, ops_per_worker: int, step: Op) -> float:
    """Operations per second with ``workers`` tasks each running ``step`` in a loop."""

    async def worker(w: int) -> None:
        for i in range(ops_per_worker):
            await step(w, i)

    began = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return workers * ops_per_worker / (time.perf_counter() - began)


def raw_steps(client: Redis, prefix: str) -> tuple[Op, Op]:
    encoded = json.dumps(VALUE, separators=(",", ":")).encode()

    async def set_(w: int, i: int) -> Any:
        return await client.set(f"{prefix}:raw:{w}:{i % 100}", encoded)

    async def get(w: int, i: int) -> Any:
        return await client.get(f"{prefix}:raw:{w}:{i % 100}")

    return set_, get


def cache_steps(cache: CacheBackend) -> tuple[Op, Op]:
    async def set_(w: int, i: int) -> Any:
        return await cache.set(f"{w}:{i % 100}", VALUE)

    async def get(w: int, i: int) -> Any:
        return await cache.get(f"{w}:{i % 100}")

    return set_, get


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--ops", type=int, default=600, help="operations per round, side, kind")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    args = parser.parse_args()

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    pool_size = max(args.concurrency)
    defaults = RedisCacheSettings()
    # The raw client gets the connection settings the pattern uses, so the comparison
    # isolates what the pattern adds per call.
    raw = Redis(
        connection_pool=BlockingConnectionPool.from_url(
            URL,
            max_connections=pool_size,
            timeout=defaults.connect_timeout,
            socket_connect_timeout=defaults.connect_timeout,
            socket_timeout=defaults.socket_timeout,
            retry=Retry(NoBackoff(), 1),
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(
            {
                "cache": {
                    "use": "cache-redis",
                    "url": URL,
                    "key_prefix": prefix,
                    "max_connections": pool_size,
                }
            },
            root=Path(folder),
            name="bench",
        )
        async with app.running():
            cache = app.services.require(Cache)
            sides = {"raw": raw_steps(raw, prefix), "cache": cache_steps(cache)}
            # Warm both pools and code paths.
            for set_, get in sides.values():
                await measure(pool_size, 200, set_)
                await measure(pool_size, 200, get)
            print(
                f"redis-py {redis.__version__}, {args.rounds} interleaved rounds of "
                f"{args.ops} ops per side and kind"
            )
            print(
                f"{'workers':>7} {'op':>4} {'raw ops/s':>11} {'cache ops/s':>12} "
                f"{'ratio':>6} {'min':>5} {'max':>5}"
            )
            for workers in args.concurrency:
                per_worker = max(1, args.ops // workers)
                results: dict[tuple[str, str], list[float]] = {}
                for round_no in range(args.rounds):
                    order = ["raw", "cache"] if round_no % 2 == 0 else ["cache", "raw"]
                    for side in order:
                        set_, get = sides[side]
                        results.setdefault((side, "set"), []).append(
                            await measure(workers, per_worker, set_)
                        )
                        results.setdefault((side, "get"), []).append(
                            await measure(workers, per_worker, get)
                        )
                for op in ("get", "set"):
                    raw_runs, cache_runs = results[("raw", op)], results[("cache", op)]
                    ratios = [c / r for c, r in zip(cache_runs, raw_runs, strict=True)]
                    print(
                        f"{workers:>7} {op:>4} {statistics.median(raw_runs):>11,.0f} "
                        f"{statistics.median(cache_runs):>12,.0f} "
                        f"{statistics.median(ratios):>6.2f} {min(ratios):>5.2f} {max(ratios):>5.2f}"
                    )
            await cache.clear()
    doomed = [key async for key in raw.scan_iter(match=f"{prefix}:*", count=1000)]
    if doomed:
        await raw.unlink(*doomed)
    await raw.aclose()


if __name__ == "__main__":
    asyncio.run(main())
