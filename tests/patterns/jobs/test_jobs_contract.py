"""The Jobs contract against every backend: jobs-local, real Redis, real RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from rainmaker.testing.contracts.jobs import JobsContract, JobsUnderTest
from rainmaker.testing.servers import require_server
from tests.patterns.database.conftest import (
    PG_HOST,
    PG_PORT,
    create_pg_database,
    drop_pg_database,
    pg_url,
)
from tests.patterns.jobs.conftest import drop_rabbitmq_namespace, drop_redis_namespace


class TestLocalJobs(JobsContract):
    @pytest.fixture
    def jobs_under_test(self) -> JobsUnderTest:
        return JobsUnderTest(use="jobs-local")


class TestLocalJobsPostgres(JobsContract):
    """jobs-local on PostgreSQL: claims take rows with FOR UPDATE SKIP LOCKED."""

    @pytest.fixture
    def jobs_under_test(self) -> Iterator[JobsUnderTest]:
        require_server("PostgreSQL", PG_HOST, PG_PORT)
        name = create_pg_database()
        try:
            yield JobsUnderTest(
                use="jobs-local",
                database={"use": "database-postgres", "url": pg_url(name), "auto_migrate": True},
            )
        finally:
            drop_pg_database(name)


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
