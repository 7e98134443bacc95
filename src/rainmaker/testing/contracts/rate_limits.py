"""The ``RateLimits`` contract: behaviour every
:class:`~rainmaker.capabilities.rate_limits.RateLimiter` provider must show. ``rate-limit``
runs it on memory and on Redis storage; so can yours.

How to run it against your own provider: subclass :class:`RateLimiterContract` in a test
module and define one fixture, ``limiter_factory``, returning a :class:`LimiterFactory`::

    import pytest
    from rainmaker.testing.contracts.rate_limits import LimiterFactory, RateLimiterContract

    class TestMyLimiter(RateLimiterContract):
        @pytest.fixture
        async def limiter_factory(self, pattern_loader) -> LimiterFactory:
            async def make(policies):
                loaded = pattern_loader(my_pattern, {"policies": policies})
                await loaded.start()
                return loaded.provided["RateLimits"]
            return make

Every call of the factory returns a started provider with exactly the given policies
(``{"name": {"limit": "3/minute", "strategy": "fixed-window", "key": "address"}}``), and
every provider of one test shares *the same store*: the contract checks that counters hold
across them, the way two processes share a server. Tests use fresh random keys, so a
shared server needs no cleaning between tests. Windows are a minute or longer and nothing
asserts a duration.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

import pytest

from rainmaker.capabilities.rate_limits import (
    RateLimitDecision,
    RateLimiter,
    RateLimitExceededError,
    UnknownPolicyError,
)

__all__ = ["LimiterFactory", "RateLimiterContract"]

STRATEGIES = ["moving-window", "fixed-window"]


class LimiterFactory(Protocol):
    """Builds a started provider with these policies; see the module docstring."""

    def __call__(self, policies: Mapping[str, Mapping[str, Any]]) -> Awaitable[RateLimiter]: ...


def fresh_key() -> str:
    return f"contract-{uuid.uuid4().hex}"


@pytest.mark.asyncio
class RateLimiterContract:
    """The behaviour; a subclass provides the ``limiter_factory`` fixture."""

    async def test_is_a_rate_limiter_exposing_its_policies(
        self, limiter_factory: LimiterFactory
    ) -> None:
        limiter = await limiter_factory({"api": {"limit": "100/minute"}})
        assert isinstance(limiter, RateLimiter)
        policy = limiter.policies["api"]
        assert (policy.name, policy.amount, policy.period) == ("api", 100, 60)
        assert policy.strategy == "moving-window" and policy.key == "address"

    @pytest.mark.parametrize("strategy", STRATEGIES)
    async def test_allows_the_limit_then_refuses(
        self, limiter_factory: LimiterFactory, strategy: str
    ) -> None:
        limiter = await limiter_factory({"p": {"limit": "3/minute", "strategy": strategy}})
        key = fresh_key()
        decisions = [await limiter.hit("p", key) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
        refused = decisions[3]
        assert refused.limit == 3 and refused.remaining == 0 and refused.period == 60
        assert 0 < refused.reset_after <= 61
        assert not refused.degraded

    async def test_a_refusal_carries_the_standard_headers_and_a_429(
        self, limiter_factory: LimiterFactory
    ) -> None:
        limiter = await limiter_factory({"p": {"limit": "1/minute"}})
        key = fresh_key()
        allowed = await limiter.hit("p", key)
        assert allowed.headers()["RateLimit-Limit"] == "1"
        assert allowed.headers()["RateLimit-Remaining"] == "0"
        assert "Retry-After" not in allowed.headers()
        refused = await limiter.hit("p", key)
        headers = refused.headers()
        assert 1 <= int(headers["Retry-After"]) <= 61
        assert 0 <= int(headers["RateLimit-Reset"]) <= 61
        assert headers["RateLimit-Policy"] == "1;w=60"
        error = refused.error(pattern_id="contract")
        assert isinstance(error, RateLimitExceededError)
        assert (error.status, error.code, error.policy) == (429, "rate_limited", "p")
        assert error.headers["Retry-After"] == headers["Retry-After"]

    async def test_a_declared_policy_counts_and_settings_win(
        self, limiter_factory: LimiterFactory
    ) -> None:
        limiter = await limiter_factory({"tuned": {"limit": "1/minute"}})
        declared = limiter.declare("coded", "2 per 30 seconds")
        assert (declared.name, declared.amount, declared.period) == ("coded", 2, 30)
        assert declared.strategy == "fixed-window" and declared.key == "custom"
        assert limiter.policies["coded"] == declared
        key = fresh_key()
        assert [(await limiter.hit("coded", key)).allowed for _ in range(3)] == [
            True,
            True,
            False,
        ]
        # A policy of the same name in the settings wins over the code's default.
        tuned = limiter.declare("tuned", "100/minute")
        assert tuned.amount == 1
        assert limiter.declare("coded", "9/minute") == declared  # the first declaration stays
        with pytest.raises(ValueError):
            limiter.declare("bad", "not a limit")

    async def test_keys_and_policies_count_apart(self, limiter_factory: LimiterFactory) -> None:
        limiter = await limiter_factory({"a": {"limit": "1/minute"}, "b": {"limit": "1/minute"}})
        first, second = fresh_key(), fresh_key()
        assert (await limiter.hit("a", first)).allowed
        assert not (await limiter.hit("a", first)).allowed
        assert (await limiter.hit("a", second)).allowed  # another key
        assert (await limiter.hit("b", first)).allowed  # another policy, same limit

    async def test_peek_counts_nothing(self, limiter_factory: LimiterFactory) -> None:
        limiter = await limiter_factory({"p": {"limit": "2/minute"}})
        key = fresh_key()
        for _ in range(3):
            peeked = await limiter.peek("p", key)
            assert peeked.allowed and peeked.remaining == 2
        await limiter.hit("p", key)
        await limiter.hit("p", key)
        assert not (await limiter.peek("p", key)).allowed

    @pytest.mark.parametrize("strategy", STRATEGIES)
    async def test_reset_forgets_the_counters(
        self, limiter_factory: LimiterFactory, strategy: str
    ) -> None:
        limiter = await limiter_factory({"p": {"limit": "1/minute", "strategy": strategy}})
        key = fresh_key()
        await limiter.hit("p", key)
        assert not (await limiter.hit("p", key)).allowed
        await limiter.reset("p", key)
        assert (await limiter.hit("p", key)).allowed

    async def test_cost_counts_several_hits(self, limiter_factory: LimiterFactory) -> None:
        limiter = await limiter_factory({"p": {"limit": "5/minute"}})
        key = fresh_key()
        assert (await limiter.hit("p", key, cost=4)).remaining == 1
        assert not (await limiter.hit("p", key, cost=2)).allowed

    async def test_every_limit_of_a_policy_must_allow(
        self, limiter_factory: LimiterFactory
    ) -> None:
        limiter = await limiter_factory({"p": {"limit": "5/minute;2/hour"}})
        key = fresh_key()
        decisions: list[RateLimitDecision] = [await limiter.hit("p", key) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert decisions[2].limit == 2 and decisions[2].period == 3600  # the hour refused

    @pytest.mark.parametrize("strategy", STRATEGIES)
    async def test_counters_are_shared_by_every_client_of_the_store(
        self, limiter_factory: LimiterFactory, strategy: str
    ) -> None:
        policies = {"p": {"limit": "2/minute", "strategy": strategy}}
        one, other = await limiter_factory(policies), await limiter_factory(policies)
        key = fresh_key()
        assert (await one.hit("p", key)).allowed
        assert (await other.hit("p", key)).allowed
        assert not (await one.hit("p", key)).allowed
        assert not (await other.peek("p", key)).allowed

    async def test_an_unknown_policy_is_an_error_naming_the_declared_ones(
        self, limiter_factory: LimiterFactory
    ) -> None:
        limiter = await limiter_factory({"api": {"limit": "1/minute"}})
        for call in (limiter.hit, limiter.peek, limiter.reset):
            with pytest.raises(UnknownPolicyError, match="api"):
                await call("nope", fresh_key())

    async def test_requests_are_keyed_by_address_or_header(
        self, limiter_factory: LimiterFactory
    ) -> None:
        limiter = await limiter_factory(
            {"ip": {"limit": "1/minute"}, "tenant": {"limit": "1/minute", "key": "header:X-Tenant"}}
        )
        scope: dict[str, Any] = {
            "type": "http",
            "client": ("203.0.113.7", 5000),
            "headers": [(b"x-tenant", b"acme")],
        }
        other_client = {**scope, "client": ("203.0.113.8", 5000)}
        assert await limiter.key_for("ip", scope) != await limiter.key_for("ip", other_client)
        # A header key follows the header, not the address.
        assert await limiter.key_for("tenant", scope) == await limiter.key_for(
            "tenant", other_client
        )
        without = {**scope, "headers": []}
        assert await limiter.key_for("tenant", without) == await limiter.key_for("ip", without)
