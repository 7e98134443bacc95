"""``rate_limit("policy")``: a route dependency counting requests under a named policy.

The policy is declared in the settings of whichever pattern provides ``RateLimits``
(``rate-limit``)::

    from rainmaker.http import rate_limit

    @router.post("/search", dependencies=[rate_limit("search")])
    async def search() -> ...

    @router.post("/exports")
    async def export(decision: Annotated[RateLimitDecision, rate_limit("exports")]) -> ...

A request the policy allows gets the ``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset`` and ``RateLimit-Policy`` headers; one it refuses is a 429
problem+json (code ``rate_limited``) with ``Retry-After`` too. The request's key follows
the policy's ``key`` setting (address, user, API key, a header); ``key=`` passes a function
of the request for a key of your own (a tenant id, say). Like ``Inject``, the dependency
carries an injection marker, so composing it without a ``RateLimits`` provider is reported
before start.

This module does not use ``from __future__ import annotations``: FastAPI reads the
annotations of the dependency below at runtime.
"""

import functools
from collections.abc import Callable
from typing import Any

from fastapi import Depends
from starlette.requests import HTTPConnection
from starlette.responses import Response

from rainmaker.capabilities.rate_limits import RateLimitDecision, RateLimits
from rainmaker.http.inject import Injection, mark
from rainmaker.http.owners import owner_for
from rainmaker.http.responses import raises

KeyFunction = Callable[[HTTPConnection], str | None]
"""A custom key: the request's key under the policy, or ``None`` to use the policy's own."""


@functools.cache
def rate_limit(policy: str, *, key: KeyFunction | None = None, cost: int = 1) -> Any:
    """A dependency counting ``cost`` hits of the request under ``policy`` (429 past it).

    ``dependencies=[rate_limit("api")]``, or ``Annotated[RateLimitDecision,
    rate_limit("api")]`` to receive the decision too.
    """
    if not policy:
        raise ValueError("rate_limit() needs the name of a policy")
    if cost < 1:
        raise ValueError("rate_limit(cost=...) must be at least 1")

    @raises(429)
    async def limit(connection: HTTPConnection, response: Response) -> RateLimitDecision:
        owner = owner_for(connection.scope)
        limiter = owner.require(RateLimits)
        subject = key(connection) if key is not None else None
        if subject is None:
            subject = await limiter.key_for(policy, connection.scope)
        decision = await limiter.hit(policy, subject, cost=cost)
        if not decision.allowed:
            raise decision.error(pattern_id=owner.instance)
        response.headers.update(decision.headers())
        return decision

    limit.__name__ = limit.__qualname__ = f"rate_limit_{policy}"
    mark(limit, Injection(capability=RateLimits))
    return Depends(limit)
