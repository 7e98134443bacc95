"""Benchmark: ``rate-limit`` on Redis against the ``limits`` library used by hand, same server.

Two sides count hits of the same kind of policy (``1000000/minute``: never refused, so
every hit does the full work) on the same Redis, through the same kind of pool (redis-py's
``ConnectionPool`` with the pattern's timeouts):

- ``limits``: what an app writes without the pattern — ``RedisStorage`` (redis-py), a
  strategy, ``parse()``d once, then per hit ``strategy.hit(item, ...)`` and
  ``get_window_stats(item, ...)`` (the figures the ``RateLimit-*`` headers need). The
  baseline the ratio is computed against.
- ``pattern``: the composed ``rate-limit`` pattern as code gets it
  (``app.services.require(RateLimits).hit(policy, key)``): policy lookup, the outage
  circuit, the decision object.

Both strategies (moving and fixed window), at 1 and 32 concurrent workers. Many short
rounds are interleaved, the order alternating every round, so a shared machine's noise
hits both sides alike; the ratio is pattern / limits over all rounds' totals, with the
median of per-round ratios as a cross-check. Keys are spread over 100 clients per worker.

    .venv/bin/python bench/rate_limit/run.py [--rounds 200] [--ops 64] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import limits
import structlog
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from redis.asyncio import ConnectionPool

from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.testing.harness import build_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result as Row
from bench.results import write_results

URL = "redis://127.0.0.1:6379/0"
LIMIT = "1000000/minute"
SIDES = ("limits", "pattern")
STRATEGIES = ("moving-window", "fixed-window")

Op = Callable[[int, int], Awaitable[Any]]


async def measure(workers: int, ops_per_worker: int, step: Op) -> float:
    """Seconds for ``workers`` tasks to each run ``step`` ``ops_per_worker`` times."""

    async def worker(w: int) -> None:
        for i in range(ops_per_worker):
            await step(w, i)

    began = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return time.perf_counter() - began


def by_hand(prefix: str, strategy_name: str, pool: ConnectionPool) -> tuple[Op, RedisStorage]:
    """``limits`` as its documentation shows it, with the headers' figures."""
    storage = RedisStorage(
        f"async+{URL}",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=f"{prefix}-hand-{strategy_name}",
        connection_pool=pool,
    )
    kind = MovingWindowRateLimiter if strategy_name == "moving-window" else FixedWindowRateLimiter
    strategy = kind(storage)
    item = limits.parse(LIMIT)

    async def hit(w: int, i: int) -> Any:
        key = f"client-{w}-{i % 100}"
        allowed = await strategy.hit(item, "api", key)
        reset, remaining = await strategy.get_window_stats(item, "api", key)
        return allowed, remaining, reset - time.time()

    return hit, storage


async def run(rounds: int, ops: int, concurrency: list[int]) -> list[Row]:
    figures: list[Row] = []
    prefix = f"bench-rl-{uuid.uuid4().hex[:8]}"
    timeout = 0.5
    with tempfile.TemporaryDirectory() as folder:
        policies = {name: {"limit": LIMIT, "strategy": name} for name in STRATEGIES}
        app = build_app(
            {
                "limits": {
                    "use": "rate-limit",
                    "storage_url": URL,
                    "key_prefix": f"{prefix}-pattern",
                    "policies": policies,
                }
            },
            root=Path(folder),
            name="bench",
        )
        async with app.running():
            limiter = app.services.require(RateLimits)
            pool = ConnectionPool.from_url(
                URL, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            print(f"limits {limits.__version__}; {rounds} interleaved rounds of {ops} hits")
            print(
                f"{'strategy':>14} {'workers':>7} {'limits hits/s':>14} {'pattern hits/s':>15} "
                f"{'ratio':>6} {'(median round)':>15}"
            )
            for strategy_name in STRATEGIES:
                hand, _ = by_hand(prefix, strategy_name, pool)

                async def ours(w: int, i: int, policy: str = strategy_name) -> Any:
                    return await limiter.hit(policy, f"client-{w}-{i % 100}")

                steps = {"limits": hand, "pattern": ours}
                for step in steps.values():  # warm pools and code paths
                    await measure(max(concurrency), 50, step)
                for workers in concurrency:
                    per_worker = max(1, ops // workers)
                    times: dict[str, list[float]] = {side: [] for side in SIDES}
                    for round_no in range(rounds):
                        order = SIDES if round_no % 2 == 0 else SIDES[::-1]
                        for side in order:
                            times[side].append(await measure(workers, per_worker, steps[side]))
                    done = workers * per_worker * rounds
                    rate = {side: done / sum(times[side]) for side in SIDES}
                    per_round = [
                        h / p for h, p in zip(times["limits"], times["pattern"], strict=True)
                    ]
                    ratio = rate["pattern"] / rate["limits"]
                    print(
                        f"{strategy_name:>14} {workers:>7} {rate['limits']:>14,.0f} "
                        f"{rate['pattern']:>15,.0f} {ratio:>6.3f} "
                        f"{statistics.median(per_round):>15.3f}"
                    )
                    figures.append(
                        Row(
                            "rate_limit",
                            f"rate-limit hit ({strategy_name}, Redis), {workers} worker(s) "
                            "vs limits by hand",
                            "hits/s",
                            rate["pattern"],
                            rate["limits"],
                            True,
                            ">= 0.95x",
                        )
                    )
            from redis.asyncio import Redis

            client = Redis(connection_pool=pool)
            doomed = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            if doomed:
                await client.unlink(*doomed)
            await pool.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--ops", type=int, default=64, help="hits per round and side")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--quick", action="store_true", help="40 rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 40
    logging.disable(logging.INFO)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    write_results(args.json, asyncio.run(run(args.rounds, args.ops, args.concurrency)))


if __name__ == "__main__":
    main()
