"""Per-address limiters key on the client's canonical address (issue 19, "every limiter
keys on the canonical identity"): what one client controls must not buy fresh counters.

Every per-address limit holds for one address as a socket reports it, and also for what
one client controls beyond that: an IPv6 client gets a whole /64 from any host or ISP and
picks a new address per request at no cost, and an address that came through a forwarded
header keeps the spelling it was written in (``2001:DB8::7``, ``2001:0db8::0007``,
``::ffff:198.51.100.7``, ``198.51.100.7:5123``). Both auth-jwt's and rate-limit's address
keys go through :func:`rainmaker.http.client_key`: one IPv4 address, the IPv6 /64.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rainmaker.testing.harness import build_app

Client = Callable[[str], Any]
SECRET = "security-tests-only-0123456789-abcdefghijklmnopqrstuvwxyz"
LIMIT = 3


@asynccontextmanager
async def _app(tmp_path: Path, patterns: dict[str, dict[str, Any]]) -> AsyncIterator[Client]:
    app = build_app(
        {
            "http": {"use": "framework-fastapi", "access_log": False},
            "db": {"use": "database-sqlite", "path": "l.db"},
            **patterns,
        },
        root=tmp_path,
    )
    await app.start()

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://api")

    try:
        yield client
    finally:
        await app.stop()


def _auth(tmp_path: Path) -> Any:
    return _app(
        tmp_path,
        {
            "auth": {
                "use": "auth-jwt",
                "secret": SECRET,
                "hashing": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
                "rate_limits": {"login_per_address": {"attempts": LIMIT, "window": 600}},
            }
        },
    )


def _rate_limited(tmp_path: Path) -> Any:
    return _app(
        tmp_path,
        {
            "limits": {
                "use": "rate-limit",
                "policies": {"edge": {"limit": f"{LIMIT}/minute", "key": "address"}},
                "paths": [{"path": "/health/live", "policy": "edge"}],
            }
        },
    )


async def _logins(client: Client, addresses: list[str]) -> list[int]:
    statuses = []
    for address in addresses:
        async with client(address) as http:
            answer = await http.post(
                "/auth/login", json={"email": "nobody@example.com", "password": "x" * 12}
            )
            statuses.append(answer.status_code)
    return statuses


async def _lives(client: Client, addresses: list[str]) -> list[int]:
    statuses = []
    for address in addresses:
        async with client(address) as http:
            statuses.append((await http.get("/health/live")).status_code)
    return statuses


SAME_V4 = ["198.51.100.7"] * (LIMIT + 1)
SAME_V6 = ["2001:db8::7"] * (LIMIT + 1)
# One address spelled four ways: a socket never reports these, a forwarded header can.
SPELLED_V6 = ["2001:db8::7", "2001:db8:0:0::7", "2001:DB8::7", "2001:0db8::0007"]
ONE_SLASH_64 = [f"2001:db8::{n:x}" for n in range(1, LIMIT + 2)]
# An IPv4 client seen through a dual-stack socket, and through a header with a port.
SPELLED_V4 = ["198.51.100.7", "::ffff:198.51.100.7", "198.51.100.7:5123", "::FFFF:c633:6407"]
ONE_CLIENT = pytest.mark.parametrize(
    "addresses",
    [SAME_V4, SAME_V6, ONE_SLASH_64, SPELLED_V6, SPELLED_V4],
    ids=["ipv4", "ipv6", "slash-64", "spelled-v6", "spelled-v4"],
)
# Two /64s of one /48, and two IPv4 neighbours: different clients, different counters.
NEIGHBOURS = [
    ["2001:db8:0:1::1", "2001:db8:0:2::1"],
    ["198.51.100.7", "198.51.100.8"],
]


@ONE_CLIENT
async def test_login_per_address_counts_one_client_once(
    tmp_path: Path, addresses: list[str]
) -> None:
    async with _auth(tmp_path) as client:
        statuses = await _logins(client, addresses)
    assert statuses[:LIMIT] == [401] * LIMIT and statuses[LIMIT] == 429, statuses


@ONE_CLIENT
async def test_rate_limit_address_policy_counts_one_client_once(
    tmp_path: Path, addresses: list[str]
) -> None:
    async with _rate_limited(tmp_path) as client:
        statuses = await _lives(client, addresses)
    assert statuses[:LIMIT] == [200] * LIMIT and statuses[LIMIT] == 429, statuses


@pytest.mark.parametrize("pair", NEIGHBOURS, ids=["ipv6-networks", "ipv4-addresses"])
async def test_rate_limit_keeps_neighbouring_clients_apart(tmp_path: Path, pair: list[str]) -> None:
    async with _rate_limited(tmp_path) as client:
        first = await _lives(client, [pair[0]] * (LIMIT + 1))
        second = await _lives(client, [pair[1]])
    assert first[LIMIT] == 429 and second == [200], (first, second)


async def test_rate_limit_ipv6_prefix_is_a_setting(tmp_path: Path) -> None:
    """``ipv6_prefix = 128`` counts single IPv6 addresses (one /64 is then many clients);
    ``ipv6_prefix = 48`` counts a whole site."""
    policies = {"edge": {"limit": f"{LIMIT}/minute", "key": "address"}}
    paths = [{"path": "/health/live", "policy": "edge"}]
    single = {"use": "rate-limit", "policies": policies, "paths": paths, "ipv6_prefix": 128}
    async with _app(tmp_path, {"limits": single}) as client:
        assert await _lives(client, ONE_SLASH_64) == [200] * len(ONE_SLASH_64)
    site = {**single, "ipv6_prefix": 48}
    async with _app(tmp_path, {"limits": site}) as client:
        statuses = await _lives(client, [f"2001:db8:0:{n:x}::1" for n in range(1, LIMIT + 2)])
    assert statuses[LIMIT] == 429, statuses


async def test_login_per_address_ipv6_prefix_is_a_setting(tmp_path: Path) -> None:
    """auth-jwt's ``rate_limits.ipv6_prefix = 128`` counts single IPv6 addresses."""
    auth = {
        "use": "auth-jwt",
        "secret": SECRET,
        "hashing": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
        "rate_limits": {
            "ipv6_prefix": 128,
            "login_per_address": {"attempts": LIMIT, "window": 600},
        },
    }
    async with _app(tmp_path, {"auth": auth}) as client:
        statuses = await _logins(client, ONE_SLASH_64)
    assert statuses == [401] * len(ONE_SLASH_64), statuses
