"""The Jobs contract against every backend: jobs-local, real Redis, real RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rainmaker.testing.contracts.jobs import JobsContract, JobsUnderTest
from tests.patterns.jobs.conftest import drop_rabbitmq_namespace, drop_redis_namespace


class TestLocalJobs(JobsContract):
    @pytest.fixture
    def jobs_under_test(self) -> JobsUnderTest:
        return JobsUnderTest(use="jobs-local")


class TestRedisJobs(JobsContract):
    @pytest.fixture
    async def jobs_under_test(
        self, redis_server: str, namespace: str
    ) -> AsyncIterator[JobsUnderTest]:
        yield JobsUnderTest(
            use="jobs-redis", settings={"url": redis_server, "key_prefix": namespace}
        )
        await drop_redis_namespace(namespace)


class TestRabbitMqJobs(JobsContract):
    @pytest.fixture
    async def jobs_under_test(
        self, rabbitmq_server: str, namespace: str
    ) -> AsyncIterator[JobsUnderTest]:
        yield JobsUnderTest(
            use="jobs-rabbitmq", settings={"url": rabbitmq_server, "exchange": namespace}
        )
        await drop_rabbitmq_namespace(namespace, [f"{namespace}.default", f"{namespace}.dead"])
