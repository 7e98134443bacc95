"""The ``RateLimits`` capability: named policies that count requests and refuse the excess.

A provider (``rate-limit``) registers a :class:`RateLimiter`. Policies are declared by name
in the provider's settings (``"100/minute"``, a moving or a fixed window, keyed by client
address, user, API key or a header); code refers to them by that name::

    from rainmaker.http import rate_limit

    @router.post("/search", dependencies=[rate_limit("search")])
    async def search() -> ...

or, outside HTTP, through the service itself::

    limiter = ctx.services.require(RateLimits)
    decision = await limiter.hit("exports", user.id)
    if not decision.allowed:
        raise decision.error(pattern_id="reports")

A :class:`RateLimitDecision` carries what the standard ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` response headers say (and
``Retry-After`` once refused). This module imports nothing heavy: no ``limits``, no
FastAPI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import PatternError, RateLimitedError, UnavailableError

Strategy = Literal["moving-window", "fixed-window"]
"""How a window counts: a moving window counts the last ``period`` seconds exactly; a fixed
window counts per aligned period (cheaper, but allows up to twice the rate across a
window's edge)."""

KeyKind = str
"""What a policy counts per: ``"address"`` (the client's canonical address,
:func:`rainmaker.http.client_key`), ``"user"`` (the authenticated user, else the address),
``"api-key"`` (the API key once verified, else the address: made-up keys get no counter of
their own), ``"header:<Name>"`` (a request header's value, else the address) or
``"custom"`` (the key the caller passes; the HTTP dependency takes ``key=``)."""


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """One named policy, as its provider parsed it.

    ``limit`` is the policy string as written (``"100/minute"``, or several separated by
    ``;``: every one of them must allow a hit); ``amount`` and ``period`` (seconds) are
    those of its first item, which the headers describe.
    """

    name: str
    limit: str
    strategy: Strategy
    key: KeyKind
    amount: int
    period: int


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    """The outcome of one hit (or peek) under one policy for one key.

    ``reset_after`` is the number of seconds until the window frees capacity again;
    ``degraded`` is true when the counter store could not be reached and the provider
    let the request through (fail-open), in which case the other figures are nominal.
    """

    policy: str
    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    period: int
    degraded: bool = False

    @property
    def retry_after(self) -> int:
        """Whole seconds a refused client should wait (at least 1)."""
        return max(1, math.ceil(self.reset_after))

    def headers(self) -> dict[str, str]:
        """The standard response headers: ``RateLimit-Limit/Remaining/Reset`` and
        ``RateLimit-Policy`` (IETF httpapi draft), plus ``Retry-After`` once refused.

        A degraded decision carries none: its figures were not counted.
        """
        if self.degraded:
            return {}
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(max(0, math.ceil(self.reset_after))),
            "RateLimit-Policy": f"{self.limit};w={self.period}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    def error(self, *, pattern_id: str | None = None) -> RateLimitExceededError:
        """The 429 to raise for a refused decision (headers included)."""
        return RateLimitExceededError(
            f"rate limit {self.policy!r} exceeded ({self.limit} per {self.period} seconds); "
            f"try again in {self.retry_after} seconds",
            retry_after=self.retry_after,
            pattern_id=pattern_id,
            headers=self.headers(),
            policy=self.policy,
        )


class RateLimitExceededError(RateLimitedError):
    """A policy refused the request: 429 problem+json with ``Retry-After`` and the
    ``RateLimit-*`` headers. The code is the framework's ``rate_limited``, so clients handle
    every 429 alike; ``policy`` names the policy that refused."""

    code: ClassVar[str] = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, policy: str, **kwargs: Any) -> None:
        super().__init__(message, retry_after=retry_after, **kwargs)
        self.policy = policy


class UnknownPolicyError(PatternError):
    """Code asked for a policy the provider's settings do not declare (a programming error
    of the caller: the message names the declared policies)."""

    code: ClassVar[str] = "rate_limit_policy_unknown"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Unknown rate limit policy"


class RateLimitUnavailableError(UnavailableError):
    """The counter store is down and the provider fails closed (``fail_open = false``)."""

    code: ClassVar[str] = "rate_limit_unavailable"
    title: ClassVar[str] = "Rate limiting unavailable"


@runtime_checkable
class RateLimiter(Protocol):
    """What every ``RateLimits`` provider implements.

    Counters of one key under one policy are shared by every client of the same store
    (with a server-backed store, by every process). ``hit``/``peek``/``reset`` raise
    :class:`UnknownPolicyError` for a policy that is not declared; ``hit`` and ``peek``
    raise :class:`RateLimitUnavailableError` when the store is down and the provider fails
    closed, and answer a ``degraded`` allowed decision when it fails open.
    """

    @property
    def policies(self) -> Mapping[str, RateLimitPolicy]:
        """Every declared policy, by name."""
        ...

    async def hit(self, policy: str, key: str, *, cost: int = 1) -> RateLimitDecision:
        """Count ``cost`` hits of ``key`` under ``policy``; refused hits are not counted."""
        ...

    async def peek(self, policy: str, key: str) -> RateLimitDecision:
        """The decision a hit of cost 1 would get now, counting nothing."""
        ...

    async def reset(self, policy: str, key: str) -> None:
        """Forget the counters of ``key`` under ``policy``."""
        ...

    def declare(
        self,
        name: str,
        limit: str,
        *,
        strategy: Strategy = "fixed-window",
        key: KeyKind = "custom",
    ) -> RateLimitPolicy:
        """Declare a policy a pattern needs, with its default ``limit``, and answer the
        policy in force: one of that name in the provider's settings wins, so an app
        tunes a pattern's limits where it tunes its own. Declaring a name twice answers
        the first declaration; a ``limit`` that does not parse raises ``ValueError``.
        """
        ...

    async def key_for(self, policy: str, scope: Mapping[str, Any]) -> str:
        """The key a request (its ASGI ``scope``) counts under ``policy``'s keying.

        A ``"custom"`` policy has no key of its own here: this answers the client address,
        and callers pass their key to :meth:`hit` instead.
        """
        ...


RateLimits: Capability[RateLimiter] = Capability(
    "RateLimits",
    RateLimiter,
    description="Named rate limit policies (moving or fixed windows) shared across processes.",
)
