"""The ``rate_limit`` dependency and the path-rule middleware, through a composed app."""

from __future__ import annotations

from typing import Any

import pytest

from rainmaker.capabilities import Auth
from tests.patterns.rate_limit.conftest import AUTH, Serve

POLICIES = """
[patterns.limits]
use = "rate-limit"

[patterns.limits.policies.ping]
limit = "2/minute"

[patterns.limits.policies.per-user]
limit = "2/minute"
key = "user"

[patterns.limits.policies.tenant]
limit = "1/minute"
key = "custom"

[patterns.limits.policies.login]
limit = "1/minute"
strategy = "fixed-window"
"""


def assert_refused(answer: Any, *, policy_limit: int) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["code"] == "rate_limited" and body["status"] == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 61 and body["retry_after"] >= 1
    assert answer.headers["RateLimit-Limit"] == str(policy_limit)
    assert answer.headers["RateLimit-Remaining"] == "0"
    assert 0 <= int(answer.headers["RateLimit-Reset"]) <= 61


async def test_a_route_dependency_counts_and_answers_429_with_the_headers(serve: Serve) -> None:
    _, client = await serve(AUTH + POLICIES)
    first = await client.get("/l/ping")
    assert first.status_code == 200
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("2", "1")
    assert first.headers["RateLimit-Policy"] == "2;w=60"
    assert (await client.get("/l/ping")).headers["RateLimit-Remaining"] == "0"
    refused = await client.get("/l/ping")
    assert_refused(refused, policy_limit=2)
    assert refused.json()["pattern"] == "limited"  # the instance whose route refused
    assert (await client.get("/l/open")).status_code == 200  # no policy there


async def test_a_user_policy_counts_per_user_and_the_handler_gets_the_decision(
    serve: Serve,
) -> None:
    app, client = await serve(AUTH + POLICIES)
    auth = app.services.require(Auth)
    headers = {}
    for email in ("ada@example.com", "bob@example.com"):
        user = await auth.create_user(email, "correct horse battery staple")
        headers[email] = {"Authorization": f"Bearer {(await auth.issue_tokens(user)).access_token}"}
    ada, bob = headers["ada@example.com"], headers["bob@example.com"]
    assert (await client.get("/l/mine", headers=ada)).json()["remaining"] == 1
    assert (await client.get("/l/mine", headers=ada)).json()["remaining"] == 0
    assert_refused(await client.get("/l/mine", headers=ada), policy_limit=2)
    # Same address, another user: counted apart.
    assert (await client.get("/l/mine", headers=bob)).json()["remaining"] == 1
    # Without a token the route's own guard answers (the rate limit keys by address).
    assert (await client.get("/l/mine")).status_code == 401


async def test_a_custom_key_function_keys_the_route(serve: Serve) -> None:
    _, client = await serve(AUTH + POLICIES)
    assert (await client.get("/l/tenant?tenant=acme")).status_code == 200
    assert (await client.get("/l/tenant?tenant=acme")).status_code == 429
    assert (await client.get("/l/tenant?tenant=globex")).status_code == 200


async def test_path_rules_limit_routes_that_declare_nothing(serve: Serve) -> None:
    rules = """
[[patterns.limits.paths]]
path = "/l/open"
methods = ["GET"]
policy = "login"
"""
    _, client = await serve(AUTH + POLICIES + rules)
    first = await client.get("/l/open")
    assert first.status_code == 200 and first.headers["RateLimit-Remaining"] == "0"
    refused = await client.get("/l/open")
    assert_refused(refused, policy_limit=1)
    assert refused.json()["pattern"] == "limits"  # the middleware's instance
    assert refused.json()["request_id"]  # inside the edge layer: the request has its id
    assert (await client.head("/l/open")).status_code != 429  # GET only


async def test_path_rule_prefixes_match_everything_below(serve: Serve) -> None:
    rules = """
[[patterns.limits.paths]]
path = "/l/*"
policy = "login"
"""
    _, client = await serve(AUTH + POLICIES + rules)
    assert (await client.get("/l/open")).status_code == 200
    assert (await client.get("/l/tenant?tenant=x")).status_code == 429  # same address
    assert (await client.get("/health/live")).status_code == 200  # not below /l/


@pytest.mark.redis
async def test_two_apps_on_one_redis_share_the_counters(
    serve: Serve, redis_url: str, redis_prefix: str
) -> None:
    # storage_url sits in the [patterns.limits] table, before its sub-tables.
    shared = AUTH + POLICIES.replace(
        'use = "rate-limit"\n',
        f'use = "rate-limit"\nstorage_url = "{redis_url}"\nkey_prefix = "{redis_prefix}"\n',
    )
    _, one = await serve(shared)
    _, other = await serve(shared)
    assert (await one.get("/l/ping")).status_code == 200
    assert (await other.get("/l/ping")).status_code == 200
    assert_refused(await one.get("/l/ping"), policy_limit=2)
    assert_refused(await other.get("/l/ping"), policy_limit=2)
