"""How requests are keyed: by API key (the verified key, hashed; else the address) and by user."""

from __future__ import annotations

from typing import Any

from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.http import STATE_KEY
from tests.patterns.rate_limit.conftest import AUTH, Serve


def scope(*headers: tuple[bytes, bytes], client: str = "198.51.100.4") -> dict[str, Any]:
    return {"type": "http", "client": (client, 1234), "headers": list(headers)}


async def test_api_key_policies_key_by_the_verified_key(serve: Serve) -> None:
    app, http = await serve(
        AUTH + '[patterns.keys]\nuse = "api-keys"\n\n'
        '[patterns.limits]\nuse = "rate-limit"\n\n'
        '[patterns.limits.policies.k]\nlimit = "1/minute"\nkey = "api-key"\n'
    )
    auth = app.services.require(Auth)
    user = await auth.create_user("kay@example.com", "correct horse battery staple")
    token = (await auth.issue_tokens(user)).access_token
    created = await http.post(
        "/api-keys", json={"name": "ci"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    limiter = app.services.require(RateLimits)
    owners = app.http_module().compose().route_owners  # type: ignore[attr-defined]

    def request(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
        return {**scope(*headers), "state": {STATE_KEY: owners}}

    by_header = await limiter.key_for("k", request((b"x-api-key", key.encode())))
    by_bearer = await limiter.key_for("k", request((b"authorization", f"Bearer {key}".encode())))
    assert by_header == by_bearer and by_header.startswith("key:")
    assert key not in by_header  # the store never holds a credential
    # A made-up key, a bearer token that is not an API key (a JWT), or none: the address.
    made_up = await limiter.key_for("k", request((b"x-api-key", b"rk_live_made_up_0123")))
    jwt = await limiter.key_for("k", request((b"authorization", f"Bearer {token}".encode())))
    assert made_up == jwt == await limiter.key_for("k", request()) == "addr:198.51.100.4"


async def test_user_policies_follow_the_token_not_the_address(serve: Serve) -> None:
    app, _ = await serve(
        AUTH + '[patterns.limits]\nuse = "rate-limit"\n\n'
        '[patterns.limits.policies.u]\nlimit = "1/minute"\nkey = "user"\n'
    )
    auth = app.services.require(Auth)
    user = await auth.create_user("kay@example.com", "correct horse battery staple")
    token = (await auth.issue_tokens(user)).access_token
    limiter = app.services.require(RateLimits)
    # Keying runs in requests (it needs the route owners table); a scope like the edge
    # layer hands the middleware: state with the table, no route yet.
    owners = app.http_module().compose().route_owners  # type: ignore[attr-defined]
    state = {STATE_KEY: owners}
    here = {**scope((b"authorization", f"Bearer {token}".encode())), "state": dict(state)}
    there = {**scope((b"authorization", f"Bearer {token}".encode()), client="192.0.2.1"),
             "state": dict(state)}  # fmt: skip
    assert (
        await limiter.key_for("u", here) == await limiter.key_for("u", there) == (f"user:{user.id}")
    )
    bad = {**scope((b"authorization", b"Bearer nonsense")), "state": dict(state)}
    assert await limiter.key_for("u", bad) == "addr:198.51.100.4"  # left to the route's guard
