"""Benchmark: cache get/set through ``cache-redis`` against raw redis-py, same server.

Three sides talk to the same Redis through the same kind of pool (``BlockingConnectionPool``
with the pattern's default size and timeouts, given to raw redis-py as well) and store the
same small JSON object:

- ``raw``: redis-py plus ``json.dumps``/``json.loads`` by hand, what an app caching a dict
  without the pattern writes. This is the baseline the ratio is computed against.
- ``raw-bytes``: redis-py sending bytes encoded once up front (no serialization at all), the
  floor; shown so the cost of JSON itself is visible.
- ``cache``: the composed ``cache-redis`` pattern as an app gets it (``app.services``):
  key namespacing, JSON on every call, the outage guard.

Many very short rounds are interleaved, the order rotating every round, so the noise of a
shared machine hits every side alike. Reported per side: throughput over all its rounds
(total operations / total time); ratios are cache / raw of those totals, with the median of
per-round ratios as a cross-check.

    .venv/bin/python bench/cache/run.py [--rounds 300] [--ops 64] [--concurrency 1 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result as Row
from bench.results import write_results

URL = "redis://127.0.0.1:6379/0"
VALUE = {"id": 12345, "name": "Widget", "price": 9.99, "tags": ["a", "b"], "active": True}
SIDES = ("raw", "raw-bytes", "cache")

Op = Callable[[int, int], Awaitable[Any]]


async def measure(workers: int, ops_per_worker: int, step: Op) -> float:
    """Seconds for ``workers`` tasks to each run ``step`` ``ops_per_worker`` times."""

    async def worker(w: int) -> None:
        for i in range(ops_per_worker):
            await step(w, i)

    began = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return time.perf_counter() - began


def raw_steps(client: Redis, prefix: str) -> tuple[Op, Op]:
    """redis-py with JSON by hand."""

    async def set_(w: int, i: int) -> Any:
        data = json.dumps(VALUE).encode()
        return await client.set(f"{prefix}:raw:{w}:{i % 100}", data)

    async def get(w: int, i: int) -> Any:
        data = await client.get(f"{prefix}:raw:{w}:{i % 100}")
        return None if data is None else json.loads(data)

    return set_, get


def raw_bytes_steps(client: Redis, prefix: str) -> tuple[Op, Op]:
    """redis-py moving pre-encoded bytes."""
    encoded = json.dumps(VALUE, separators=(",", ":")).encode()

    async def set_(w: int, i: int) -> Any:
        return await client.set(f"{prefix}:bytes:{w}:{i % 100}", encoded)

    async def get(w: int, i: int) -> Any:
        return await client.get(f"{prefix}:bytes:{w}:{i % 100}")

    return set_, get


def cache_steps(cache: CacheBackend) -> tuple[Op, Op]:
    """The composed cache-redis pattern."""

    async def set_(w: int, i: int) -> Any:
        return await cache.set(f"{w}:{i % 100}", VALUE)

    async def get(w: int, i: int) -> Any:
        return await cache.get(f"{w}:{i % 100}")

    return set_, get


def raw_client(pool_size: int) -> Redis:
    """redis-py with the connection settings the pattern uses by default, so the comparison
    isolates what the pattern adds per call."""
    defaults = RedisCacheSettings()
    return Redis(
        connection_pool=BlockingConnectionPool.from_url(
            URL,
            max_connections=pool_size,
            timeout=defaults.connect_timeout,
            socket_connect_timeout=defaults.connect_timeout,
            socket_timeout=defaults.socket_timeout,
            retry=Retry(NoBackoff(), 1),
        )
    )


async def run(rounds: int, ops: int, concurrency: list[int]) -> list[Row]:
    figures: list[Row] = []
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    pool_size = max(concurrency)
    raw = raw_client(pool_size)
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(
            {"cache": {"use": "cache-redis", "url": URL, "key_prefix": prefix}},
            root=Path(folder),
            name="bench",
        )
        async with app.running():
            cache = app.services.require(Cache)
            steps = {
                "raw": raw_steps(raw, prefix),
                "raw-bytes": raw_bytes_steps(raw, prefix),
                "cache": cache_steps(cache),
            }
            for set_, get in steps.values():  # warm pools and code paths
                await measure(pool_size, 50, set_)
                await measure(pool_size, 50, get)
            print(f"redis-py {redis.__version__}; {rounds} interleaved rounds of {ops} ops")
            print(
                f"{'workers':>7} {'op':>4} {'raw ops/s':>10} {'bytes ops/s':>12} "
                f"{'cache ops/s':>12} {'cache/raw':>10} {'(median round)':>15} "
                f"{'cache/bytes':>12}"
            )
            for workers in concurrency:
                per_worker = max(1, ops // workers)
                times: dict[tuple[str, str], list[float]] = {}
                for round_no in range(rounds):
                    shift = round_no % len(SIDES)
                    for side in SIDES[shift:] + SIDES[:shift]:
                        set_, get = steps[side]
                        times.setdefault((side, "set"), []).append(
                            await measure(workers, per_worker, set_)
                        )
                        times.setdefault((side, "get"), []).append(
                            await measure(workers, per_worker, get)
                        )
                done = workers * per_worker * rounds
                for op in ("get", "set"):
                    rate = {side: done / sum(times[(side, op)]) for side in SIDES}
                    per_round = [
                        r / c for r, c in zip(times[("raw", op)], times[("cache", op)], strict=True)
                    ]
                    print(
                        f"{workers:>7} {op:>4} {rate['raw']:>10,.0f} {rate['raw-bytes']:>12,.0f} "
                        f"{rate['cache']:>12,.0f} {rate['cache'] / rate['raw']:>10.2f} "
                        f"{statistics.median(per_round):>15.2f} "
                        f"{rate['cache'] / rate['raw-bytes']:>12.2f}"
                    )
                    figures.append(
                        Row("cache", f"cache-redis {op}, {workers} worker(s) vs redis-py + json",
                            "ops/s", rate["cache"], rate["raw"], True, ">= 0.9x")
                    )
            await cache.clear()
    doomed = [key async for key in raw.scan_iter(match=f"{prefix}:*", count=1000)]
    if doomed:
        await raw.unlink(*doomed)
    await raw.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--ops", type=int, default=64, help="operations per round, side, kind")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--quick", action="store_true", help="60 rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 60
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    write_results(args.json, asyncio.run(run(args.rounds, args.ops, args.concurrency)))


if __name__ == "__main__":
    main()
