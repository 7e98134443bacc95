"""Brute-force limits: fixed-window attempt counters per account and per client address.

Counters live in the app's ``Cache`` when one runs (so every process shares them; with
``cache-redis`` they survive restarts) and in this process otherwise. Windows are aligned
to multiples of their length, so the key names its window and ``Retry-After`` is simply the
time to the window's end, without asking the store for a TTL. Attempts are counted
*before* the password is checked: a flood is refused before it costs any hashing, and
known and unknown emails are counted alike. Email addresses are hashed in keys, so the
cache holds no addresses.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Protocol

from rainmaker import RateLimitedError
from rainmaker.capabilities.cache import CacheBackend
from rainmaker.patterns.auth_jwt.settings import RateLimit

MAX_MEMORY_KEYS = 100_000


class AttemptCounter(Protocol):
    """What the service counts attempts with: this module's :class:`AttemptLimiter`, or
    :class:`~rainmaker.patterns.auth_jwt.policy_limiter.PolicyLimiter` when the app
    composes a ``RateLimits`` provider."""

    @property
    def backend(self) -> str:
        """Where the counters live (health and the start log show it)."""
        ...

    async def hit(self, name: str, subject: str, limit: RateLimit, *, what: str) -> None:
        """Count one attempt of ``name`` by ``subject``; raise once past ``limit``."""
        ...


class MemoryCounters:
    """In-process counters with expiry (used when no ``Cache`` is composed)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._clock = clock

    async def incr(self, key: str, ttl: float) -> int:
        now = self._clock()
        count, expires = self._counts.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + ttl
        count += 1
        self._counts[key] = (count, expires)
        if len(self._counts) > MAX_MEMORY_KEYS:
            self._prune(now)
        return count

    def _prune(self, now: float) -> None:
        for key in [k for k, (_, expires) in self._counts.items() if expires <= now]:
            del self._counts[key]
        while len(self._counts) > MAX_MEMORY_KEYS:  # still full: drop the oldest keys
            del self._counts[next(iter(self._counts))]


class AttemptLimiter:
    """Counts attempts under named limits and raises :class:`RateLimitedError` past them."""

    def __init__(
        self,
        cache: CacheBackend | None,
        *,
        enabled: bool,
        pattern_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cache = cache
        self.enabled = enabled
        self.pattern_id = pattern_id
        self._memory = MemoryCounters()
        self._clock = clock

    @property
    def backend(self) -> str:
        """Where the counters live: ``"cache"`` or ``"memory"``."""
        return "cache" if self.cache is not None else "memory"

    async def hit(self, name: str, subject: str, limit: RateLimit, *, what: str) -> None:
        """Count one attempt of ``name`` by ``subject``; raise once past ``limit``."""
        if not self.enabled:
            return
        now = self._clock()
        window = limit.window
        index = int(now // window)
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        key = f"rl:{name}:{digest}:{index}"
        ttl = window + 1.0
        if self.cache is not None:
            count = await self.cache.incr(key, ttl=ttl)
        else:
            count = await self._memory.incr(key, ttl)
        if count > limit.attempts:
            retry_after = max(1, math.ceil((index + 1) * window - now))
            raise RateLimitedError(
                f"too many {what}; try again in {retry_after} seconds",
                retry_after=retry_after,
                pattern_id=self.pattern_id,
            )
