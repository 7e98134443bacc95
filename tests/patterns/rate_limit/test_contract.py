"""``rate-limit`` passes the RateLimits contract on memory storage and on a real Redis."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import structlog

from rainmaker.capabilities.rate_limits import RateLimiter
from rainmaker.patterns.rate_limit.limiter import LimitsRateLimiter
from rainmaker.patterns.rate_limit.pattern import rate_limit
from rainmaker.patterns.rate_limit.settings import RateLimitSettings
from rainmaker.testing.contracts.rate_limits import LimiterFactory, RateLimiterContract


class TestMemoryStorage(RateLimiterContract):
    @pytest.fixture
    async def limiter_factory(self) -> LimiterFactory:
        from limits.aio.storage import MemoryStorage

        storage = MemoryStorage()  # every limiter of one test shares it, like one process

        async def make(policies: Mapping[str, Mapping[str, Any]]) -> RateLimiter:
            settings = RateLimitSettings.model_validate({"policies": policies})
            return LimitsRateLimiter(
                settings, storage, backend="memory", instance="rl", log=structlog.get_logger()
            )

        return make


@pytest.mark.redis
class TestRedisStorage(RateLimiterContract):
    @pytest.fixture
    async def limiter_factory(
        self, pattern_loader: Any, redis_url: str, redis_prefix: str
    ) -> LimiterFactory:
        async def make(policies: Mapping[str, Mapping[str, Any]]) -> RateLimiter:
            # A whole module per call: its own pool, like another process of the app.
            loaded = pattern_loader(
                rate_limit,
                {
                    "policies": policies,
                    "storage_url": redis_url,
                    "key_prefix": redis_prefix,
                    "fail_open": False,
                },
            )
            await loaded.start()
            limiter: RateLimiter = loaded.provided["RateLimits"]
            return limiter

        return make


async def test_the_module_registers_a_memory_limiter(pattern_loader: Any) -> None:
    loaded = pattern_loader(rate_limit, {"policies": {"api": {"limit": "2/minute"}}})
    await loaded.start()
    limiter = loaded.provided["RateLimits"]
    assert isinstance(limiter, RateLimiter)
    assert [(await limiter.hit("api", "k")).allowed for _ in range(3)] == [True, True, False]
    health = await loaded.module.health()
    assert health.status == "up" and health.details["backend"] == "memory"


def test_examples_validate() -> None:
    for example in rate_limit.examples:
        rate_limit.settings.model_validate(example)
