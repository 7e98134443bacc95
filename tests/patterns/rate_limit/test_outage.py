"""Redis down: fail-open lets requests through (degraded), fail-closed answers 503; start
refuses an unreachable Redis unless fail-open. A closed loopback port stands for the
outage (nothing to mock: the real client gets a real connection refusal)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from rainmaker import StartupError, UnavailableError
from rainmaker.capabilities.rate_limits import RateLimitUnavailableError
from rainmaker.patterns.rate_limit.pattern import rate_limit
from rainmaker.testing.proxy import TcpProxy


def closed_port() -> int:
    with socket.socket() as probe:  # bound and closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def down_settings(*, fail_open: bool) -> dict[str, Any]:
    return {
        "storage_url": f"redis://127.0.0.1:{closed_port()}/0",
        "fail_open": fail_open,
        "timeout": 0.2,
        "policies": {"api": {"limit": "1/minute"}},
    }


async def test_fail_open_starts_degraded_and_lets_requests_through(pattern_loader: Any) -> None:
    loaded = pattern_loader(rate_limit, down_settings(fail_open=True))
    await loaded.start()
    limiter = loaded.provided["RateLimits"]
    decisions = [await limiter.hit("api", "k") for _ in range(3)]
    assert all(d.allowed and d.degraded for d in decisions)  # over the limit, yet allowed
    assert decisions[0].headers() == {}  # uncounted figures are not advertised
    health = await loaded.module.health()
    assert health.status == "degraded" and health.details["backend"] == "redis"


async def test_fail_closed_refuses_to_start_naming_the_server(pattern_loader: Any) -> None:
    settings = down_settings(fail_open=False)
    loaded = pattern_loader(rate_limit, settings)
    with pytest.raises((StartupError, UnavailableError), match=r"127\.0\.0\.1"):
        await loaded.start()


@pytest.mark.redis
@pytest.mark.parametrize("fail_open", [False, True])
async def test_an_outage_after_start_follows_fail_open_and_recovers(
    pattern_loader: Any, redis_url: str, redis_prefix: str, fail_open: bool
) -> None:
    from urllib.parse import urlsplit

    target = urlsplit(redis_url)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        loaded = pattern_loader(
            rate_limit,
            {
                "storage_url": f"redis://127.0.0.1:{proxy.port}/0",
                "key_prefix": redis_prefix,
                "fail_open": fail_open,
                "timeout": 0.5,
                "retry_interval": 0,
                "policies": {"api": {"limit": "1/minute"}},
            },
        )
        await loaded.start()
        limiter = loaded.provided["RateLimits"]
        assert (await limiter.hit("api", "k")).allowed
        assert not (await limiter.hit("api", "k")).allowed
        await proxy.stop()  # Redis goes away
        if fail_open:
            decision = await limiter.hit("api", "k")
            assert decision.allowed and decision.degraded
            assert (await loaded.module.health()).status == "degraded"
        else:
            with pytest.raises(RateLimitUnavailableError) as refused:
                await limiter.hit("api", "k")
            assert refused.value.status == 503 and refused.value.code == "rate_limit_unavailable"
            assert (await loaded.module.health()).status == "down"
        await proxy.start()  # back: the counters were kept in Redis all along
        assert (await loaded.module.health()).status == "up"
        again = await limiter.hit("api", "k")
        assert not again.allowed and not again.degraded
