"""rate-limit's ``api-key`` key: a made-up key buys no fresh counter (issue 19, "every
limiter keys on the canonical identity").

Only a key the ``Credentials`` provider (``api-keys``) verifies is counted on its own, by
its id, wherever it comes from; any other presented key (invented, revoked, a typo) is
counted with everything else from its client address. Before, the counter was a hash of
the presented string, so each invented ``rk_live_…`` value started at zero.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from rainmaker.capabilities.auth import Auth
from rainmaker.testing.harness import build_app

SECRET = "security-tests-only-0123456789-abcdefghijklmnopqrstuvwxyz"
LIMIT = 3
PATH = "/health/live"
Client = Callable[[str], httpx.AsyncClient]


@asynccontextmanager
async def _app(tmp_path: Path) -> AsyncIterator[tuple[Client, str]]:
    """An app whose ``PATH`` is limited per API key; the client factory (by address) and
    one real key."""
    app = build_app(
        {
            "http": {"use": "framework-fastapi", "access_log": False},
            "db": {"use": "database-sqlite", "path": "k.db", "auto_migrate": True},
            "auth": {
                "use": "auth-jwt",
                "secret": SECRET,
                "hashing": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
            },
            "keys": {"use": "api-keys", "scopes": {"things:read": "read things"}},
            "limits": {
                "use": "rate-limit",
                "policies": {"per-key": {"limit": f"{LIMIT}/minute", "key": "api-key"}},
                "paths": [{"path": PATH, "policy": "per-key"}],
            },
        },
        root=tmp_path,
    )
    await app.start()

    def client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://api")

    try:
        auth = app.services.require(Auth)
        user = await auth.create_user("ci@example.com", "correct horse battery staple")
        bearer = {"Authorization": f"Bearer {(await auth.issue_tokens(user)).access_token}"}
        async with client("192.0.2.50") as http:
            created = await http.post("/api-keys", json={"name": "ci"}, headers=bearer)
        assert created.status_code == 201, created.text
        yield client, created.json()["key"]
    finally:
        await app.stop()


async def _get(client: Client, address: str, key: str | None) -> int:
    async with client(address) as http:
        headers = {"X-API-Key": key} if key else {}
        return (await http.get(PATH, headers=headers)).status_code


def _made_up() -> str:
    return f"rk_live_{secrets.token_urlsafe(24)}"


async def test_made_up_keys_share_their_address_counter(tmp_path: Path) -> None:
    async with _app(tmp_path) as (client, _):
        statuses = [await _get(client, "198.51.100.7", _made_up()) for _ in range(LIMIT + 1)]
        # The address is spent for key-less requests too: inventing keys bought nothing.
        bare = await _get(client, "198.51.100.7", None)
    assert statuses[:LIMIT] == [200] * LIMIT and statuses[LIMIT] == 429, statuses
    assert bare == 429


async def test_a_verified_key_is_counted_by_its_id_wherever_it_comes_from(
    tmp_path: Path,
) -> None:
    async with _app(tmp_path) as (client, key):
        addresses = [f"203.0.113.{n}" for n in range(1, LIMIT + 2)]
        statuses = [await _get(client, address, key) for address in addresses]
        # Its own counter: the addresses it came from keep theirs.
        elsewhere = await _get(client, "203.0.113.1", _made_up())
    assert statuses[:LIMIT] == [200] * LIMIT and statuses[LIMIT] == 429, statuses
    assert elsewhere == 200


async def test_a_verified_key_does_not_spend_its_address(tmp_path: Path) -> None:
    """A real key and the made-up ones sent from its address count apart: an attacker
    sharing a NAT with a CI job cannot exhaust the job's key by inventing keys."""
    async with _app(tmp_path) as (client, key):
        invented = [await _get(client, "198.51.100.9", _made_up()) for _ in range(LIMIT + 1)]
        real = await _get(client, "198.51.100.9", key)
    assert invented[LIMIT] == 429 and real == 200, (invented, real)
