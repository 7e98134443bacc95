"""The running ``rate-limit`` module: build the ``limits`` storage, register ``RateLimits``.

Memory storage needs nothing to start. With ``storage_url`` the module opens a redis-py
pool of its own and proves Redis answers within ``timeout``; when it does not, start fails
naming the server — or, with ``fail_open``, the app starts with rate limiting degraded
(requests pass) and it recovers by itself once Redis is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from rainmaker import Health, Middleware, Module, UnavailableError, redact_url
from rainmaker.capabilities.credentials import Credentials
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.patterns.rate_limit.limiter import LimitsRateLimiter
from rainmaker.patterns.rate_limit.settings import RateLimitSettings


class RateLimitModule(Module[RateLimitSettings]):
    """``rate-limit``: policies over ``limits``' memory or Redis storage."""

    limiter: LimitsRateLimiter | None = None
    _pool: Any = None

    async def start(self) -> None:
        storage, backend = self._storage()
        self.limiter = LimitsRateLimiter(
            self.settings,
            storage,
            backend=backend,
            instance=self.ctx.instance,
            log=self.ctx.log,
            credentials=lambda: self.ctx.services.get(Credentials),
        )
        if backend == "redis" and not await self.limiter.check():
            where = self._endpoint()
            if not self.settings.fail_open:
                await self._close()
                raise UnavailableError(
                    f"Redis at {where} did not answer within {self.settings.timeout} s",
                    pattern_id=self.ctx.instance,
                    hint="start Redis, fix storage_url, or set fail_open = true to start "
                    "with rate limiting degraded",
                )
            self.ctx.log.warning("rate_limit.store_down_at_start", endpoint=where)
        self.ctx.services.register(RateLimits, self.limiter)
        self.ctx.log.info(
            "rate_limit.started", backend=backend, policies=sorted(self.limiter.policies)
        )

    def _storage(self) -> tuple[Any, str]:
        url = self.settings.storage_url
        if url is None:
            from limits.aio.storage import MemoryStorage

            return MemoryStorage(), "memory"
        import redis.asyncio
        from limits.aio.storage import RedisStorage

        raw = url.get_secret_value()
        timeout = self.settings.timeout
        # Our own pool, so stop() can close it, with timeouts that bound an outage's cost.
        self._pool = redis.asyncio.ConnectionPool.from_url(
            raw, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        storage = RedisStorage(
            f"async+{raw}",
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=self.settings.key_prefix,
            connection_pool=self._pool,
        )
        return storage, "redis"

    def _endpoint(self) -> str:
        url = self.settings.storage_url
        if url is None:
            return "memory"
        parts = urlsplit(url.get_secret_value())
        return f"{parts.hostname}:{parts.port or 6379}"

    async def stop(self) -> None:
        await self._close()
        self.limiter = None

    async def _close(self) -> None:
        limiter = self.limiter
        if limiter is not None:
            # limits' MemoryStorage expires entries in a task of its own: end it with us.
            timer = getattr(limiter.storage, "timer", None)
            if isinstance(timer, asyncio.Task) and not timer.done():
                timer.cancel()
                await asyncio.gather(timer, return_exceptions=True)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.aclose()

    async def health(self) -> Health:
        limiter = self.limiter
        if limiter is None:
            return Health.down(reason="not started")
        details: dict[str, Any] = {
            "backend": limiter.backend,
            "policies": sorted(limiter.policies),
        }
        if limiter.backend == "memory":
            return Health.up(**details)
        details["endpoint"] = redact_url(f"redis://{self._endpoint()}")
        if await limiter.check():
            return Health.up(**details)
        details.update(failures=limiter.failures, last_error=limiter.last_error)
        if self.settings.fail_open:
            return Health.degraded(reason="Redis unreachable: requests pass unlimited", **details)
        return Health.down(reason="Redis unreachable: limited requests answer 503", **details)

    def middleware(self) -> Sequence[Middleware]:
        """The path-rule middleware, when ``paths`` declares rules."""
        if not self.settings.paths:
            return ()
        from rainmaker.patterns.rate_limit.middleware import PathRateLimitMiddleware

        return [
            Middleware(
                "rate-limit",
                PathRateLimitMiddleware,
                options={
                    "limiter": lambda: self.limiter,
                    "rules": self.settings.paths,
                    "instance": self.ctx.instance,
                    "type_base": self.settings.problem_type_base,
                },
                after=["edge"],
            )
        ]
