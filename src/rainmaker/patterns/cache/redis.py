"""The production cache: Redis through one redis-py asyncio connection pool per instance.

:class:`RedisLink` owns the pool, the outage breaker and the Lua scripts, and is shared by
every namespace view; :class:`RedisCache` is one namespace, implementing
:class:`~rainmaker.capabilities.cache.CacheBackend`.

Every command goes through :meth:`RedisLink.run`, which turns a connection failure into a
miss / no-op (``fail_open``, the default) or an :class:`~rainmaker.UnavailableError` naming
the endpoint, and skips the network entirely while the breaker is open
(see :mod:`~rainmaker.patterns.cache.outage`).

Multi-key operations (tags, ``incr`` with a ttl) are Lua scripts so they are atomic; tag sets
hold keys computed at run time, which is fine on a single Redis or a replicated primary but
not on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from rainmaker import UnavailableError
from rainmaker.patterns.cache.keyspace import ttl_ms
from rainmaker.patterns.cache.namespace_view import NamespaceView, tag_list
from rainmaker.patterns.cache.outage import Outage, describe
from rainmaker.patterns.cache.serializers import decode
from rainmaker.patterns.cache.settings import RedisCacheSettings, redis_endpoint
from rainmaker.patterns.cache.stampede import SingleFlight

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

T = TypeVar("T")

#: What counts as "Redis is unreachable" (as opposed to a bad command).
FAILURES: Final = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)


class _Down:
    """Sentinel returned by :meth:`RedisLink.run` when failing open."""

    def __repr__(self) -> str:
        return "DOWN"


DOWN: Final = _Down()

# ttl applies only when the counter has no expiry yet (a fixed window is not pushed back).
INCR_WITH_TTL = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""

# KEYS[1] = data key, KEYS[2..] = tag sets; ARGV = value, ttl ms (0: none).
# A tag set lives as long as its longest-lived member so tags never outlast their keys by much.
SET_WITH_TAGS = """
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else redis.call('SET', KEYS[1], ARGV[1]) end
for i = 2, #KEYS do
  local before = redis.call('PTTL', KEYS[i])
  redis.call('SADD', KEYS[i], KEYS[1])
  if ttl > 0 then
    if before == -2 or (before >= 0 and before < ttl) then redis.call('PEXPIRE', KEYS[i], ttl) end
  elseif before >= 0 then
    redis.call('PERSIST', KEYS[i])
  end
end
return 1
"""

# KEYS = tag sets. Deletes every member, then the sets; returns how many keys existed.
INVALIDATE_TAGS = """
local removed = 0
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members, 500 do
    removed = removed + redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i])
end
return removed
"""

# Delete the lock only if we still hold it (it may have expired and been taken by another).
RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLink:
    """One instance's connection pool, outage state and scripts, shared by all its views."""

    def __init__(
        self, settings: RedisCacheSettings, *, instance: str, app: str, log: FilteringBoundLogger
    ) -> None:
        host, port, _db = redis_endpoint(settings.url)
        self.endpoint = f"{host}:{port}"
        self.instance = instance
        self.settings = settings
        self.fail_open = settings.fail_open
        self.log = log
        self.outage = Outage(
            self.endpoint,
            log,
            retry_interval=settings.retry_interval,
            log_interval=settings.log_interval,
        )
        self.flights = SingleFlight()
        # Reads through get() and get_or_set() of every view, for health details.
        self.hits = 0
        self.misses = 0
        extra: dict[str, Any] = {}
        if settings.password is not None:
            extra["password"] = settings.password.get_secret_value()
        # One retry without backoff: a pooled connection the server closed (restart,
        # idle timeout) is replaced transparently, while an outage is reported at once
        # instead of after redis-py's default exponential backoff.
        self.pool = BlockingConnectionPool.from_url(
            settings.url,
            max_connections=settings.max_connections,
            timeout=settings.connect_timeout,
            socket_connect_timeout=settings.connect_timeout,
            socket_timeout=settings.socket_timeout,
            retry=Retry(NoBackoff(), 1),
            client_name=f"rainmaker:{app}:{instance}",
            **extra,
        )
        self.client: Redis = Redis(connection_pool=self.pool)
        self.incr_with_ttl = self.client.register_script(INCR_WITH_TTL)
        self.set_with_tags = self.client.register_script(SET_WITH_TAGS)
        self.invalidate_tags = self.client.register_script(INVALIDATE_TAGS)
        self.release_lock = self.client.register_script(RELEASE_LOCK)

    def unavailable(self, error: BaseException | None = None) -> UnavailableError:
        """The error raised (without ``fail_open``) when Redis cannot be reached."""
        reason = describe(error) if error is not None else self.outage.last_error
        return UnavailableError(
            f"Redis at {self.endpoint} is unreachable ({reason or 'connection failed'})",
            pattern_id=self.instance,
            hint=f"check that Redis runs on {self.endpoint} and the url setting; "
            "with fail_open = true the cache degrades to misses instead of raising",
            cause=error,
        )

    async def run(self, operation: str, call: Awaitable[Any], fallback: Any) -> Any:
        """Await one command (redis-py types its replies loosely, hence ``Any``), handling an
        outage as the settings say: ``fallback`` when failing open, else UnavailableError."""
        outage = self.outage
        if outage.down_since is not None and outage.circuit_open():
            if isinstance(call, Coroutine):
                call.close()  # never sent: the breaker is open
            outage.skipped()
            if self.fail_open:
                return fallback
            raise self.unavailable()
        try:
            result = await call
        except FAILURES as exc:
            return self.failed(exc, operation, fallback)
        if outage.down_since is not None:
            outage.recovered()
        return result

    def failed(self, error: BaseException, operation: str, fallback: Any) -> Any:
        """Record a failed command; ``fallback`` when failing open, else raise."""
        self.outage.failed(error, operation)
        if self.fail_open:
            return fallback
        raise self.unavailable(error) from error

    async def ping(self, timeout: float) -> float:
        """Round-trip milliseconds of one PING; raises :class:`UnavailableError` on failure.

        Always talks to the server (even with the breaker open), so it is how recovery is
        noticed when no traffic flows.
        """
        began = time.perf_counter()
        try:
            await asyncio.wait_for(self.client.ping(), timeout)
        except FAILURES as exc:
            self.outage.failed(exc, "ping")
            raise self.unavailable(exc) from exc
        self.outage.recovered()
        return (time.perf_counter() - began) * 1000

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.client.aclose()
        await self.pool.aclose()

    async def fetch(self, stored: str) -> Any:
        """The raw value at ``stored`` (a full key), or None: a miss, or Redis is down."""
        call = self.client.get(stored)
        if self.outage.down_since is not None:
            return await self.run("get", call, None)
        # The hot path, inlined: no outage means no breaker to consult.
        try:
            return await call
        except FAILURES as exc:
            return self.failed(exc, "get", None)


class RedisCache(NamespaceView[RedisLink]):
    """One namespace on a Redis server; the ``cache-redis`` service."""

    __slots__ = ()

    @property
    def link(self) -> RedisLink:
        return self._shared

    def _ttl_ms(self, ttl: float | None) -> int | None:
        return ttl_ms(self._default_ttl if ttl is None else ttl)

    async def get(self, key: str) -> Any | None:
        link = self._shared
        data = await link.fetch(self._keys.key(key))
        if data is None:
            link.misses += 1
            return None
        link.hits += 1
        return decode(self._serializer, data)

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, tags: Iterable[str] = ()
    ) -> None:
        if value is None:
            await self.delete(key)
            return
        stored = self._keys.key(key)
        data = self._serializer.dumps(value)
        ms = self._ttl_ms(ttl)
        tag_keys = [self._keys.tag(tag) for tag in tag_list(tags)] if tags else None
        client = self._shared.client
        if tag_keys:
            call: Awaitable[Any] = self._shared.set_with_tags(
                keys=[stored, *tag_keys], args=[data, ms or 0]
            )
        else:
            call = client.set(stored, data, px=ms)
        link = self._shared
        if link.outage.down_since is None:
            try:  # the hot path, inlined as in get()
                await call
            except FAILURES as exc:
                link.failed(exc, "set", None)
        else:
            await link.run("set", call, None)

    async def delete(self, key: str) -> bool:
        link = self._shared
        removed = await link.run("delete", link.client.delete(self._keys.key(key)), 0)
        return bool(removed)

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        stored = self._keys.key(key)
        ms = self._ttl_ms(ttl)
        link = self._shared
        call: Awaitable[Any] = (
            link.client.incrby(stored, amount)
            if ms is None
            else link.incr_with_ttl(keys=[stored], args=[amount, ms])
        )
        try:
            # Failing open, a counter behaves as if new: rate limits let traffic through.
            return int(await link.run("incr", call, amount))
        except ResponseError as exc:
            raise TypeError(
                f"cannot incr {key!r} in namespace {self.namespace!r}: it holds a value that "
                f"is not a counter ({exc})"
            ) from exc

    async def expire(self, key: str, ttl: float) -> bool:
        ms = ttl_ms(ttl)
        call = self._shared.client.pexpire(self._keys.key(key), ms or 1)
        return bool(await self._shared.run("expire", call, False))

    async def get_or_set(
        self,
        key: str,
        loader: Callable[[], Awaitable[T]],
        *,
        ttl: float | None = None,
        tags: Iterable[str] = (),
    ) -> T:
        stored = self._keys.key(key)
        tag_names = tag_list(tags)
        self._ttl_ms(ttl)  # validate before anyone waits on us
        # A hit is one GET, as in get(): the stampede guard below only runs on a miss.
        link = self._shared
        data = await link.fetch(stored)
        if data is not None:
            link.hits += 1
            found: T = decode(self._serializer, data)
            return found
        link.misses += 1
        # One flight per key in this process; across processes the lock key decides.
        return await self._shared.flights.run(
            stored, lambda: self._load(key, stored, loader, ttl, tag_names)
        )

    async def _load(
        self,
        key: str,
        stored: str,
        loader: Callable[[], Awaitable[T]],
        ttl: float | None,
        tags: tuple[str, ...],
    ) -> T:
        link = self._shared
        client = link.client
        lock_key = self._keys.lock(key)
        token = secrets.token_hex(16)
        lock_ms = ttl_ms(link.settings.lock_ttl)
        deadline = time.monotonic() + link.settings.lock_ttl
        while time.monotonic() < deadline:
            acquired = await link.run(
                "lock", client.set(lock_key, token, nx=True, px=lock_ms), DOWN
            )
            if acquired is DOWN:
                break  # Redis is away and we fail open: load without a lock
            if acquired:
                try:
                    # Re-check: the value may have been stored just before we took the lock.
                    data = await link.run("get", client.get(stored), None)
                    if data is not None:
                        cached: T = decode(self._serializer, data)
                        return cached
                    value = await loader()
                    if value is not None:
                        await self.set(key, value, ttl=ttl, tags=tags)
                    return value
                finally:
                    await link.run("unlock", link.release_lock(keys=[lock_key], args=[token]), 0)
            outcome = await self._wait_for_holder(stored, lock_key, deadline)
            if outcome is DOWN:
                break
            if outcome is not None:
                waited: T = decode(self._serializer, outcome)
                return waited
            # The holder released without storing (its loader failed or gave None): retry.
        # The holder outlived lock_ttl or Redis is away: load ourselves rather than hang.
        value = await loader()
        if value is not None:
            await self.set(key, value, ttl=ttl, tags=tags)
        return value

    async def _wait_for_holder(self, stored: str, lock_key: str, deadline: float) -> Any:
        """Poll until the value appears (its bytes), the lock is gone (``None``) or DOWN."""
        link = self._shared
        interval = link.settings.lock_poll_interval
        while time.monotonic() < deadline:
            await asyncio.sleep(interval)
            pipe = link.client.pipeline(transaction=False)
            pipe.get(stored)
            pipe.exists(lock_key)
            result = await link.run("get", pipe.execute(), DOWN)
            if result is DOWN:
                return DOWN
            data, held = result
            if data is not None:
                return data
            if not held:
                return None
        return None

    async def delete_prefix(self, prefix: str) -> int:
        return await self._delete_matching(self._keys.prefix + prefix)

    async def invalidate_tags(self, *tags: str) -> int:
        tag_keys = [self._keys.tag(tag) for tag in tags]
        if not tag_keys:
            return 0
        link = self._shared
        removed = await link.run("invalidate", link.invalidate_tags(keys=tag_keys), 0)
        return int(removed)

    async def clear(self) -> int:
        removed = await self._delete_matching(self._keys.prefix)
        await self._delete_matching(self._keys.tag_prefix)
        return removed

    async def _delete_matching(self, prefix: str) -> int:
        """SCAN for ``prefix*`` and UNLINK in batches (not atomic: keys written meanwhile
        may survive, which an invalidation racing a write cannot avoid anyway)."""
        return int(await self._shared.run("delete_prefix", self._scan_unlink(prefix), 0))

    async def _scan_unlink(self, prefix: str) -> int:
        client = self._shared.client
        removed = 0
        batch: list[bytes] = []
        async for found in client.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
            batch.append(found)
            if len(batch) >= 500:
                removed += await client.unlink(*batch)
                batch.clear()
        if batch:
            removed += await client.unlink(*batch)
        return removed

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r}, endpoint={self._shared.endpoint!r})"


def _glob_escape(text: str) -> str:
    """``text`` matched literally by Redis MATCH patterns."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
