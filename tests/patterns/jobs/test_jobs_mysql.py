"""The Jobs contract for jobs-local on MariaDB: the queue is claimed with SELECT … FOR
UPDATE SKIP LOCKED (MariaDB 10.6+), dead letters, ticks and idempotency keys live in the
same database."""

from __future__ import annotations

import pytest

from rainmaker.testing.contracts.jobs import JobsContract, JobsUnderTest
from tests.patterns.database.mysql_databases import fresh_mysql_database  # noqa: F401

pytestmark = pytest.mark.mysql


class TestLocalJobsMySQL(JobsContract):
    @pytest.fixture
    def jobs_under_test(self, fresh_mysql_database: str) -> JobsUnderTest:  # noqa: F811
        return JobsUnderTest(
            use="jobs-local",
            database={"use": "database-mysql", "url": fresh_mysql_database, "auto_migrate": True},
        )
