"""Dead letters, tick claims and idempotency keys in Redis (``jobs-redis``: no database).

Keys live under the instance's prefix: ``<prefix>:dead`` (a hash of dead letters) with
``<prefix>:dead:index`` (sorted by failure time), ``<prefix>:tick:<job>:<tick>`` (``SET NX``
per periodic tick) and ``<prefix>:idem:<key>`` / ``<prefix>:done:<key>``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rainmaker.capabilities.jobs import FailedJob
from rainmaker.patterns.jobs.messages import JobMessage, new_job_id

if TYPE_CHECKING:
    from redis.asyncio import Redis

TICK_TTL = 2 * 86_400


class RedisJobStore:
    """The :class:`~rainmaker.patterns.jobs.store.JobStore` on Redis."""

    transactional = False

    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    async def dead_letter(self, message: JobMessage, error: str) -> str:
        failed_id = new_job_id()
        now = time.time()
        record = json.dumps(
            {
                "message": message.encode().decode(),
                "attempts": message.attempt,
                "error": error[:4000],
                "failed_at": now,
            }
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self._prefix}:dead", failed_id, record)
            pipe.zadd(f"{self._prefix}:dead:index", {failed_id: now})
            await pipe.execute()
        return failed_id

    async def failed(self, limit: int) -> list[FailedJob]:
        ids: list[Any] = await self._redis.zrevrange(f"{self._prefix}:dead:index", 0, limit - 1)
        if not ids:
            return []
        records = await self._redis.hmget(f"{self._prefix}:dead", ids)
        jobs = []
        for raw_id, raw in zip(ids, records, strict=True):
            if raw is None:
                continue
            record = json.loads(raw)
            message = JobMessage.decode(record["message"])
            jobs.append(
                FailedJob(
                    id=_text(raw_id),
                    name=message.name,
                    queue=message.queue,
                    args=message.args,
                    kwargs=message.kwargs,
                    attempts=int(record["attempts"]),
                    error=str(record["error"]),
                    failed_at=datetime.fromtimestamp(float(record["failed_at"]), UTC),
                )
            )
        return jobs

    async def take_failed(self, failed_id: str) -> JobMessage | None:
        raw = await self._redis.hget(f"{self._prefix}:dead", failed_id)
        if raw is None:
            return None
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{self._prefix}:dead", failed_id)
            pipe.zrem(f"{self._prefix}:dead:index", failed_id)
            removed, _ = await pipe.execute()
        if not removed:  # a concurrent retry took it first
            return None
        return JobMessage.decode(json.loads(raw)["message"])

    async def count_failed(self) -> int:
        return int(await self._redis.hlen(f"{self._prefix}:dead"))

    async def claim_tick(self, name: str, tick: datetime, owner: str) -> bool:
        key = f"{self._prefix}:tick:{name}:{tick.isoformat()}"
        return bool(await self._redis.set(key, owner, nx=True, ex=TICK_TTL))

    async def reserve_key(self, key: str, job_id: str, ttl: float) -> str | None:
        name = f"{self._prefix}:idem:{key}"
        milliseconds = max(int(ttl * 1000), 1)
        for _ in range(3):
            if await self._redis.set(name, job_id, nx=True, px=milliseconds):
                return None
            existing = await self._redis.get(name)
            if existing is not None:  # else it expired in between: try again
                return _text(existing)
        return None

    async def mark_done(self, key: str, ttl: float) -> None:
        await self._redis.set(f"{self._prefix}:done:{key}", b"1", px=max(int(ttl * 1000), 1))

    async def is_done(self, key: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}:done:{key}"))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
