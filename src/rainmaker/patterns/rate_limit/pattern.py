"""Declaration of the ``rate-limit`` pattern (light: importing it never imports ``limits``,
redis-py or FastAPI)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.patterns.rate_limit.settings import RateLimitSettings

rate_limit: Pattern[RateLimitSettings] = Pattern(
    id="rate-limit",
    version="1.0.0",
    name="Rate limits",
    description="Named rate limit policies ('100/minute', moving or fixed window) keyed by "
    "client address, user, API key or a header, on the limits library: counters in memory "
    "or shared in Redis, fail-open or fail-closed, applied per route "
    "(rainmaker.http.rate_limit) or by path; 429 problem+json with Retry-After and the "
    "RateLimit-* headers.",
    settings=RateLimitSettings,
    factory="rainmaker.patterns.rate_limit.module:RateLimitModule",
    provides=[RateLimits],
    examples=[
        {"policies": {"api": {"limit": "100/minute"}}},
        {
            "storage_url": "redis://127.0.0.1:6379/0",
            "fail_open": False,
            "policies": {
                "login": {"limit": "5/minute;20/hour", "key": "address"},
                "api": {"limit": "1000/hour", "strategy": "fixed-window", "key": "user"},
                "tenant": {"limit": "50/second", "key": "header:X-Tenant"},
            },
            "paths": [
                {"path": "/auth/login", "methods": ["POST"], "policy": "login"},
                {"path": "/api/*", "policy": "api"},
            ],
        },
    ],
)
