"""``jobs-redis``: jobs on Redis streams through taskiq-redis's ``RedisStreamBroker``.

One stream per queue (``<prefix>:q:<queue>``) read by the consumer group ``workers``: a
job read by a worker stays in the group's pending list until the worker acknowledges it
(``XACK`` + ``XDEL``). Running jobs are renewed (``XCLAIM … JUSTID`` resets their idle time);
a job idle longer than ``visibility_timeout`` belongs to a dead worker and is taken over
(``XAUTOCLAIM``) by a live one. taskiq-redis's own ``listen`` is not used: it only looks for
abandoned jobs after a read returned new ones, so an idle worker would never take them over.

Delayed jobs wait in a sorted set per queue (``<prefix>:delayed:<queue>``, scored by due
time); every consuming worker moves due ones to their stream with one Lua script, so a
delayed job is moved exactly once.

Jobs enqueued inside a database transaction are sent with a *hold marker*
(``<prefix>:held:<job id>``, in the same ``MULTI`` as the stream entry) so the reconciler
(:mod:`~rainmaker.patterns.jobs.tracked`) can tell a job the broker lost from one it still
holds. :meth:`RedisTransport.durability` reads what the server keeps across a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from taskiq_redis import RedisStreamBroker

from rainmaker import UnavailableError
from rainmaker.capabilities.jobs import QueueStats
from rainmaker.patterns.jobs.durability import BrokerDurability, read_durability
from rainmaker.patterns.jobs.messages import JobMessage
from rainmaker.patterns.jobs.transport import Delivery

GROUP = "workers"
MOVE_INTERVAL = 0.1

# KEYS[1] delayed set, KEYS[2] stream; ARGV[1] now (ms). Moves due members atomically.
MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'data', member)
end
if #due > 0 then
  redis.call('ZREM', KEYS[1], unpack(due))
end
return #due
"""


def redis_endpoint(url: str) -> str:
    """``host:port`` of a Redis URL (never the password)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


class RedisTransport:
    """:class:`~rainmaker.patterns.jobs.transport.Transport` on Redis streams."""

    transactional = False

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        consumer: str,
        visibility_timeout: float,
        connect_timeout: float,
        password: str | None,
        log: Any,
    ) -> None:
        self.prefix = prefix
        self.consumer = consumer
        self.visibility_timeout = visibility_timeout
        self.connect_timeout = connect_timeout
        self.url = url
        self._log = log
        options: dict[str, Any] = {"password": password} if password else {}
        self.broker = RedisStreamBroker(
            url,
            queue_name=self.stream("default"),
            consumer_group_name=GROUP,
            consumer_name=consumer,
            consumer_id="0",
            idle_timeout=int(visibility_timeout * 1000),
            max_connection_pool_size=50,
            socket_connect_timeout=connect_timeout,
            health_check_interval=10,
            **options,
        )
        self.redis: Redis = Redis(connection_pool=self.broker.connection_pool)
        self._move = self.redis.register_script(MOVE_DUE)
        self._groups: set[str] = set()

    @property
    def endpoint(self) -> str:
        return redis_endpoint(self.url)

    def stream(self, queue: str) -> str:
        return f"{self.prefix}:q:{queue}"

    def delayed(self, queue: str) -> str:
        return f"{self.prefix}:delayed:{queue}"

    async def start(self) -> None:
        try:
            await asyncio.wait_for(self.redis.ping(), self.connect_timeout)
        except (RedisError, OSError, TimeoutError) as error:
            raise self.unavailable(error) from error
        await self.broker.startup()

    async def stop(self) -> None:
        await self.broker.shutdown()
        await self.redis.aclose(close_connection_pool=True)

    def unavailable(self, error: BaseException) -> UnavailableError:
        reason = str(error) or type(error).__name__
        if isinstance(error, TimeoutError):
            reason = f"no answer within {self.connect_timeout:g}s"
        return UnavailableError(
            f"Redis at {self.endpoint} is unavailable: {reason}",
            hint=f"start Redis on {self.endpoint} or fix the url setting",
            cause=error,
        )

    async def send(self, message: JobMessage, delay: float = 0.0) -> None:
        data = message.encode()
        try:
            if delay > 0:
                due = int((time.time() + delay) * 1000)
                await self.redis.zadd(self.delayed(message.queue), {data: due})
            else:
                # The entry broker.kick would add (one XADD of the taskiq message under
                # b"data"), sent on our client: kick builds a Redis client per call and
                # would have the message serialised a second time.
                await self.redis.xadd(self.stream(message.queue), {b"data": data})
        except (RedisError, OSError) as error:
            raise self.unavailable(error) from error

    def marker(self, job_id: str) -> str:
        return f"{self.prefix}:held:{job_id}"

    async def send_held(self, message: JobMessage, delay: float, ttl: float) -> None:
        """Send ``message`` and its hold marker atomically (one ``MULTI``)."""
        data = message.encode()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if delay > 0:
                    due = int((time.time() + delay) * 1000)
                    pipe.zadd(self.delayed(message.queue), {data: due})
                else:
                    pipe.xadd(self.stream(message.queue), {b"data": data})
                pipe.set(self.marker(message.job_id), b"1", px=max(int(ttl * 1000), 1))
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise self.unavailable(error) from error

    async def held(self, job_ids: list[str]) -> set[str]:
        """Which of ``job_ids`` still have their hold marker."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.exists(self.marker(job_id))
            found = await pipe.execute()
        return {job_id for job_id, there in zip(job_ids, found, strict=True) if there}

    async def forget(self, job_id: str) -> None:
        """Drop the hold marker of a settled job."""
        await self.redis.delete(self.marker(job_id))

    async def durability(self) -> BrokerDurability:
        """What this Redis keeps across a restart and under memory pressure."""
        return await read_durability(self.redis, self.endpoint)

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._groups:
            return
        try:
            await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._groups.add(stream)

    async def receive(self, queues: Sequence[str], prefetch: int) -> AsyncIterator[Delivery]:
        streams = {self.stream(q): q for q in queues}
        mover = asyncio.create_task(self._move_due(list(queues)), name="rainmaker.jobs.delayed")
        idle_ms = int(self.visibility_timeout * 1000)
        last_reclaim = 0.0
        backoff = 0.5
        try:
            while True:
                batch: list[tuple[str, bytes, bytes]] = []
                try:
                    for stream in streams:
                        await self._ensure_group(stream)
                    if time.monotonic() - last_reclaim > self.visibility_timeout / 4:
                        last_reclaim = time.monotonic()
                        for stream in streams:
                            claimed: Any = await self.redis.xautoclaim(
                                stream, GROUP, self.consumer, idle_ms, "0-0", count=prefetch
                            )
                            batch.extend((stream, i, f[b"data"]) for i, f in claimed[1] if f)
                    if not batch:
                        fetched: Any = await self.redis.xreadgroup(
                            GROUP,
                            self.consumer,
                            dict.fromkeys(streams, ">"),
                            count=prefetch,
                            block=1000,
                        )
                        for stream, entries in fetched or ():
                            name = stream.decode() if isinstance(stream, bytes) else stream
                            batch.extend((name, i, f[b"data"]) for i, f in entries)
                except (RedisError, OSError) as error:
                    self._log.warning(
                        "jobs.broker_unavailable", endpoint=self.endpoint, error=str(error)
                    )
                    self._groups.clear()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.5
                read_at = time.monotonic()
                pending = deque(batch)
                try:
                    while pending:
                        stream, entry_id, data = pending[0]
                        waited = time.monotonic() - read_at
                        if waited > self.visibility_timeout / 3 and not await self._still_ours(
                            stream, entry_id, waited
                        ):
                            pending.popleft()
                            continue
                        pending.popleft()
                        yield self._delivery(stream, entry_id, data)
                finally:
                    for stream, entry_id, data in pending:
                        with contextlib.suppress(Exception):
                            await asyncio.shield(self._requeue(stream, entry_id, data))
        finally:
            mover.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await mover

    async def _still_ours(self, stream: str, entry_id: bytes, waited: float) -> bool:
        """Renew an entry that waited in a batch; ``False`` when another worker took it."""
        min_idle = max(int(waited * 1000) - 50, 0)
        claimed = await self.redis.xclaim(
            stream, GROUP, self.consumer, min_idle, [entry_id], justid=True
        )
        return bool(claimed)

    async def _move_due(self, queues: list[str]) -> None:
        while True:
            try:
                now = int(time.time() * 1000)
                for queue in queues:
                    await self._move(keys=[self.delayed(queue), self.stream(queue)], args=[now])
            except (RedisError, OSError):
                pass  # the receive loop reports the outage
            await asyncio.sleep(MOVE_INTERVAL)

    async def _ack(self, stream: str, entry_id: bytes) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()

    async def _requeue(self, stream: str, entry_id: bytes, data: bytes) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(stream, {b"data": data})
            pipe.xack(stream, GROUP, entry_id)
            pipe.xdel(stream, entry_id)
            await pipe.execute()

    def _delivery(self, stream: str, entry_id: bytes, data: bytes) -> Delivery:
        async def ack() -> None:
            await self._ack(stream, entry_id)

        async def release() -> None:
            await self._requeue(stream, entry_id, data)

        return Delivery(data, ack, release, (stream, entry_id))

    async def renew(self, tokens: Sequence[Any]) -> None:
        by_stream: dict[str, list[Any]] = {}
        for stream, entry_id in tokens:
            by_stream.setdefault(stream, []).append(entry_id)
        for stream, ids in by_stream.items():
            await self.redis.xclaim(stream, GROUP, self.consumer, 0, ids, justid=True)

    async def ping(self) -> float:
        began = time.perf_counter()
        try:
            await asyncio.wait_for(self.redis.ping(), self.connect_timeout)
        except (RedisError, OSError, TimeoutError) as error:
            raise self.unavailable(error) from error
        return (time.perf_counter() - began) * 1000

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        result = []
        now_ms = time.time() * 1000
        for queue in queues:
            stream = self.stream(queue)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xlen(stream)
                pipe.zcard(self.delayed(queue))
                pipe.xrange(stream, count=1)
                length, delayed, first = await pipe.execute()
            oldest = None
            if first:
                entry_id = first[0][0]
                millis = int(
                    (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")[0]
                )
                oldest = max((now_ms - millis) / 1000, 0.0)
            result.append(QueueStats(queue, int(length), int(delayed), oldest))
        return result
