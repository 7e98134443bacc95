"""auth-jwt's attempt limits go through a composed ``RateLimits`` provider (issue 24):
policies named ``<instance>.<limit>``, tunable in the rate-limit instance's settings, with
counters shared by every process on Redis; without one the built-in limiter stays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from rainmaker.capabilities.rate_limits import RateLimits
from tests.patterns.auth_jwt.conftest import MakeApp, assert_problem, new_email

SQLITE_ONLY = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
# Long windows: a fixed window aligned to its length could reset between two requests.
TWO_LOGINS = {"login_per_account": {"attempts": 2, "window": 3600}}


async def failed_login(app: Any, email: str) -> Any:
    return await app.client.post("/auth/login", json={"email": email, "password": "wrong-pw"})


@SQLITE_ONLY
async def test_limits_go_through_rate_limit_when_composed(make_app: MakeApp) -> None:
    app = await make_app(extra={"limits": {"use": "rate-limit"}}, rate_limits=TWO_LOGINS)
    assert app.auth.limiter.backend == "rate-limit"
    provider = app.app.services.require(RateLimits)
    policy = provider.policies["auth.login_per_account"]
    assert (policy.amount, policy.period, policy.strategy) == (2, 3600, "fixed-window")
    assert "auth.two_factor_per_account" in provider.policies
    health = (await app.client.get("/health")).json()
    assert "rate-limit" in str(health)

    email = new_email()
    for _ in range(2):
        assert_problem(await failed_login(app, email), 401, "invalid_credentials")
    refused = await failed_login(app, email)
    body = assert_problem(refused, 429, "rate_limited")
    assert "too many login attempts" in body["detail"]
    assert refused.headers["ratelimit-limit"] == "2"
    assert refused.headers["ratelimit-policy"] == "2;w=3600"
    assert int(refused.headers["retry-after"]) >= 1
    # Per account: another address has its own counter.
    assert_problem(await failed_login(app, new_email()), 401, "invalid_credentials")


@SQLITE_ONLY
async def test_a_policy_in_rate_limit_settings_wins(make_app: MakeApp) -> None:
    limits = {"use": "rate-limit", "policies": {"auth.login_per_account": {"limit": "1/minute"}}}
    app = await make_app(extra={"limits": limits}, rate_limits=TWO_LOGINS)
    email = new_email()
    assert_problem(await failed_login(app, email), 401, "invalid_credentials")
    refused = await failed_login(app, email)
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["ratelimit-limit"] == "1"


@SQLITE_ONLY
async def test_without_rate_limit_the_built_in_limiter_stays(make_app: MakeApp) -> None:
    app = await make_app(rate_limits=TWO_LOGINS)
    assert app.auth.limiter.backend == "memory"
    cached = await make_app(rate_limits=TWO_LOGINS, cache=True)
    assert cached.auth.limiter.backend == "cache"
    email = new_email()
    for _ in range(2):
        assert_problem(await failed_login(app, email), 401, "invalid_credentials")
    assert_problem(await failed_login(app, email), 429, "rate_limited")


@pytest_asyncio.fixture
async def redis_limits(redis_url: str) -> AsyncIterator[dict[str, Any]]:
    """A rate-limit instance on the real Redis under a prefix of its own (cleaned after)."""
    prefix = f"rmtest-auth-{uuid.uuid4().hex[:12]}"
    yield {"use": "rate-limit", "storage_url": redis_url, "key_prefix": prefix}
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        doomed = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if doomed:
            await client.delete(*doomed)
    finally:
        await client.aclose()


@SQLITE_ONLY
async def test_counters_are_shared_across_apps_on_redis(
    make_app: MakeApp, redis_limits: dict[str, Any]
) -> None:
    # Two apps stand for two processes: they share nothing but Redis.
    first = await make_app(extra={"limits": redis_limits}, rate_limits=TWO_LOGINS)
    second = await make_app(extra={"limits": redis_limits}, rate_limits=TWO_LOGINS)
    email = new_email()
    assert_problem(await failed_login(first, email), 401, "invalid_credentials")
    assert_problem(await failed_login(second, email), 401, "invalid_credentials")
    assert_problem(await failed_login(first, email), 429, "rate_limited")
    assert_problem(await failed_login(second, email), 429, "rate_limited")


@SQLITE_ONLY
async def test_two_factor_codes_count_through_rate_limit(make_app: MakeApp) -> None:
    from tests.patterns.auth_jwt.test_two_factor import TWO_FACTOR, challenge, enrolled

    app = await make_app(
        extra={"limits": {"use": "rate-limit"}},
        two_factor=TWO_FACTOR,
        rate_limits={"two_factor_per_account": {"attempts": 2, "window": 3600}},
    )
    email, _, _ = await enrolled(app)  # the confirmation is attempt 1
    token = await challenge(app, email)
    body = {"challenge_token": token, "recovery_code": "aaaa-bbbb-cccc-dddd"}
    assert_problem(await app.client.post("/auth/login/2fa", json=body), 401)
    refused = await app.client.post("/auth/login/2fa", json=body)
    assert_problem(refused, 429, "rate_limited")
    assert refused.headers["ratelimit-policy"] == "2;w=3600"
