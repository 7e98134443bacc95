"""How requests are keyed: by API key (the presented credential, hashed) and by user."""

from __future__ import annotations

from typing import Any

import structlog
from limits.aio.storage import MemoryStorage

from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.http import STATE_KEY
from rainmaker.patterns.rate_limit.limiter import LimitsRateLimiter
from rainmaker.patterns.rate_limit.settings import RateLimitSettings
from tests.patterns.rate_limit.conftest import AUTH, Serve


class Prefixes:
    """Only what keying reads of a ``Credentials`` provider: its prefixes."""

    prefixes = ("rk_",)


def scope(*headers: tuple[bytes, bytes], client: str = "198.51.100.4") -> dict[str, Any]:
    return {"type": "http", "client": (client, 1234), "headers": list(headers)}


async def test_api_key_policies_key_by_the_presented_key() -> None:
    settings = RateLimitSettings.model_validate(
        {"policies": {"k": {"limit": "1/minute", "key": "api-key"}}}
    )
    limiter = LimitsRateLimiter(
        settings,
        MemoryStorage(),
        backend="memory",
        instance="rl",
        log=structlog.get_logger(),
        credentials=lambda: Prefixes(),  # type: ignore[arg-type,return-value]
    )
    by_header = await limiter.key_for("k", scope((b"x-api-key", b"rk_live_a_secret")))
    by_bearer = await limiter.key_for("k", scope((b"authorization", b"Bearer rk_live_a_secret")))
    assert by_header == by_bearer and by_header.startswith("key:")
    assert "secret" not in by_header  # the store never holds a credential
    other = await limiter.key_for("k", scope((b"x-api-key", b"rk_live_b_secret")))
    assert other != by_header
    # A bearer token that is not an API key (a JWT), or none: the client address.
    jwt = await limiter.key_for("k", scope((b"authorization", b"Bearer eyJhbGciOi.x.y")))
    assert jwt == await limiter.key_for("k", scope()) == "addr:198.51.100.4"


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
