"""Benchmark: jobs end to end (enqueue -> done) through the jobs pattern against raw taskiq.

Both sides run in this process on the same broker and do the same work: one producer
enqueues ``--jobs`` no-op jobs as fast as it can while a worker with ``--concurrency``
slots runs them; a round ends when the last job has run.

- ``taskiq``: raw taskiq as its docs show it: ``RedisStreamBroker`` (or ``AioPikaBroker``)
  plus ``@broker.task``, ``.kiq()`` and taskiq's own ``Receiver`` (acknowledging after the
  task ran, as ours does). The baseline.
- ``pattern``: a composed app with ``jobs-redis`` (or ``jobs-rabbitmq``), enqueuing through
  ``ctx.jobs.enqueue`` and running ``JobsModule.work`` (retry policy, idempotency check,
  dead letters, lease renewal, graceful drain all active).

Rounds alternate sides so that the noise of a shared machine hits both alike. Reported:
throughput per side over all rounds (jobs / total time), the ratio pattern / taskiq, and
the queue latency (enqueue -> the job starts) p50 / p99 over every job.

    .venv/bin/python bench/jobs/run.py [--broker redis|rabbitmq] [--jobs 2000] [--rounds 3]
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
from pathlib import Path
from typing import Any

import structlog

from rainmaker.capabilities.jobs import JobRegistry, Jobs
from rainmaker.testing.harness import build_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result as Row
from bench.results import write_results

REDIS_URL = "redis://127.0.0.1:6379/0"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class Tally:
    """Counts finished jobs and their queue latencies; wakes the round when all ran."""

    def __init__(self) -> None:
        self.expected = 0
        self.latencies: list[float] = []
        self.done = asyncio.Event()

    def reset(self, expected: int) -> None:
        self.expected = expected
        self.latencies = []
        self.done = asyncio.Event()

    def hit(self, sent_at: float) -> None:
        self.latencies.append(time.time() - sent_at)
        if len(self.latencies) >= self.expected:
            self.done.set()


TALLY = Tally()
registry = JobRegistry()


@registry.job("bench.noop")
async def noop(index: int, sent_at: float) -> None:
    """The pattern side's job."""
    TALLY.hit(sent_at)


async def taskiq_round(broker_name: str, jobs: int, concurrency: int) -> float:
    from taskiq import AsyncBroker
    from taskiq.receiver import Receiver

    name = f"bench-{uuid.uuid4().hex[:8]}"
    broker: AsyncBroker
    if broker_name == "redis":
        from taskiq_redis import RedisStreamBroker

        broker = RedisStreamBroker(REDIS_URL, queue_name=name, consumer_group_name="bench")
    else:
        from taskiq_aio_pika import AioPikaBroker, Exchange, Queue

        broker = AioPikaBroker(
            AMQP_URL,
            exchange=Exchange(name=name),
            task_queues=[Queue(name=f"{name}.q")],
            dead_letter_queue=Queue(name=f"{name}.dead"),
            qos=concurrency,
        )
    broker.is_worker_process = True

    @broker.task(task_name="bench.noop")
    async def task(index: int, sent_at: float) -> None:
        TALLY.hit(sent_at)

    await broker.startup()
    # The Receiver stops by itself once it has taken ``jobs`` messages
    # (``max_tasks_to_execute``): stopping it with its finish event instead cancels the
    # read it has in flight, and when that cancel lands in taskiq-redis's XAUTOCLAIM
    # pipeline redis-py loses it (the listen generator carries on to the next XREADGROUP
    # with the task marked cancelling); the Receiver then awaits that read, shielded,
    # forever, and on Python 3.11 an outer ``wait_for`` waits for its cancelled inner task,
    # so it never returned either. See README.md.
    receiver = Receiver(
        broker, max_async_tasks=concurrency, run_startup=False, max_tasks_to_execute=jobs
    )
    listening = asyncio.create_task(receiver.listen(asyncio.Event()))
    TALLY.reset(jobs)
    began = time.perf_counter()
    for index in range(jobs):
        await task.kiq(index, time.time())
    await asyncio.wait_for(TALLY.done.wait(), 300)
    elapsed = time.perf_counter() - began
    await listening  # returns once the last job's callback finished
    await _cleanup(broker_name, broker, name)
    await broker.shutdown()
    return elapsed


async def pattern_round(broker_name: str, jobs: int, concurrency: int) -> float:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    settings: dict[str, Any] = {"registries": ["__main__:registry"], "concurrency": concurrency}
    patterns: dict[str, dict[str, Any]] = {}
    root = Path(tempfile.mkdtemp(prefix="rm-bench-jobs-"))
    if broker_name == "redis":
        patterns["jobs"] = {"use": "jobs-redis", "url": REDIS_URL, "key_prefix": name, **settings}
    else:
        patterns["db"] = {"use": "database-sqlite", "path": str(root / "app.db")}
        patterns["jobs"] = {"use": "jobs-rabbitmq", "url": AMQP_URL, "exchange": name, **settings}
    app = build_app(patterns, root=root, name="bench")
    async with app.running():
        from rainmaker.patterns.jobs.module import JobsModule

        module = app.instances["jobs"].module
        assert isinstance(module, JobsModule)
        service = app.services.require(Jobs)
        working = asyncio.create_task(module.work())
        TALLY.reset(jobs)
        began = time.perf_counter()
        for index in range(jobs):
            await service.enqueue("bench.noop", index, time.time())
        await asyncio.wait_for(TALLY.done.wait(), 300)
        elapsed = time.perf_counter() - began
        module.stop_working()
        await working
        await _cleanup(broker_name, module.service.transport if module.service else None, name)
    return elapsed


async def _cleanup(broker_name: str, _broker: Any, name: str) -> None:
    if broker_name == "redis":
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{name}*", count=1000)]
        if keys:
            await client.unlink(*keys)
        await client.aclose()
        return
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    for queue in (f"{name}.q", f"{name}.dead", f"{name}.default"):
        try:
            await channel.queue_delete(queue)
        except Exception:
            channel = await connection.channel()
    try:
        await channel.exchange_delete(name)
    except Exception:
        pass
    await connection.close()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def jobs_results(
    options: argparse.Namespace,
    elapsed: dict[str, list[float]],
    latencies: dict[str, list[float]],
) -> list[Row]:
    """Throughput and p99 queue latency of the pattern beside raw taskiq (None: stalled)."""

    def rate(side: str) -> float | None:
        done = elapsed[side]
        return options.jobs * len(done) / sum(done) if done else None

    def p99(side: str) -> float | None:
        found = latencies[side]
        return _percentile(found, 0.99) * 1000 if found else None

    note = "" if elapsed["taskiq"] else "the raw taskiq baseline stalled (see bench/jobs/README.md)"
    figure = f"jobs-{options.broker}: no-op jobs, {options.concurrency} concurrent"
    rows = []
    ours, base = rate("pattern"), rate("taskiq")
    if ours is not None:
        rows.append(Row("jobs", f"{figure}, throughput", "jobs/s", ours, base, True, note=note))
    ours, base = p99("pattern"), p99("taskiq")
    if ours is not None:
        rows.append(Row("jobs", f"{figure}, queue latency p99", "ms", ours, base, False, note=note))
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=("redis", "rabbitmq"), default="redis")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--round-timeout",
        type=float,
        default=300.0,
        help="seconds before a round counts as stalled",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 300 jobs, 30 s bound")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    options = parser.parse_args()
    if options.quick:
        options.jobs, options.rounds, options.round_timeout = 300, 1, 30.0
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sides = {"taskiq": taskiq_round, "pattern": pattern_round}
    elapsed: dict[str, list[float]] = {side: [] for side in sides}
    latencies: dict[str, list[float]] = {side: [] for side in sides}
    order = ["pattern", "taskiq"]
    stalled: set[str] = set()
    for _ in range(options.rounds):
        for side in order:
            if side in stalled:
                continue
            try:
                seconds = await asyncio.wait_for(
                    sides[side](options.broker, options.jobs, options.concurrency),
                    options.round_timeout,
                )
            except TimeoutError:
                print(f"{side}: round stalled after {options.round_timeout:g} s", flush=True)
                stalled.add(side)
                continue
            elapsed[side].append(seconds)
            latencies[side].extend(TALLY.latencies)
            # Written after every round: a stalled round may block the loop for good (see
            # README), and whoever runs this can kill it and keep what was measured.
            write_results(options.json, jobs_results(options, elapsed, latencies))
        order.reverse()
    write_results(options.json, jobs_results(options, elapsed, latencies))
    if stalled:
        return
    print(
        f"broker={options.broker} jobs/round={options.jobs} rounds={options.rounds} "
        f"concurrency={options.concurrency}"
    )
    print(f"{'side':8} {'jobs/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    rates = {}
    for side in sides:
        rates[side] = options.jobs * options.rounds / sum(elapsed[side])
        p50 = _percentile(latencies[side], 0.5) * 1000
        p99 = _percentile(latencies[side], 0.99) * 1000
        print(f"{side:8} {rates[side]:9.0f} {p50:8.1f} {p99:8.1f}")
    per_round = [p / t for p, t in zip(elapsed["taskiq"], elapsed["pattern"], strict=True)]
    print(
        f"ratio pattern/taskiq: {rates['pattern'] / rates['taskiq']:.2f} "
        f"(median per round {statistics.median(per_round):.2f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
