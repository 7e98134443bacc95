"""``database-mysql`` on MariaDB: the ``Database`` contract, the migration suite, the
session settings and the errors people see.

Runs against the server of the ``mysql_url`` fixture (MariaDB on 127.0.0.1:3306 here); each
test's tables live in a throwaway database. Without the server these tests skip locally
and fail under ``CI=true``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rainmaker.testing.contracts.database import DatabaseContract, DatabaseUnderTest
from tests.patterns.database.mysql_databases import (  # noqa: F401 (fixtures)
    fresh_mysql_database,
    shared_mysql_database,
)
from tests.patterns.database.test_database_migrations import (
    test_auto_migrate_at_start_then_two_patterns_share_transactions,
    test_dependent_patterns_upgrade_in_order_downgrade_and_upgrade_again,
    test_migration_touching_another_prefix_is_refused_and_rolled_back,
    test_revision_writes_and_autogenerates_within_the_prefix,
)

pytestmark = pytest.mark.mysql

# The migration suite of the other backends, collected here again on MariaDB: these
# fixtures replace the sqlite/postgres ones of conftest.py for this module.
__all__ = [
    "test_auto_migrate_at_start_then_two_patterns_share_transactions",
    "test_dependent_patterns_upgrade_in_order_downgrade_and_upgrade_again",
    "test_migration_touching_another_prefix_is_refused_and_rolled_back",
    "test_revision_writes_and_autogenerates_within_the_prefix",
]


@pytest.fixture
def backend() -> str:
    return "mysql"


@pytest.fixture
def fresh_database(fresh_mysql_database: str) -> dict[str, Any]:  # noqa: F811
    return {"use": "database-mysql", "url": fresh_mysql_database, "auto_migrate": False}


class TestMySQLDatabaseContract(DatabaseContract):
    @pytest.fixture
    def database_under_test(
        self,
        shared_mysql_database: str,  # noqa: F811
        tmp_path: Path,
    ) -> DatabaseUnderTest:
        return DatabaseUnderTest(
            use="database-mysql",
            settings={"url": shared_mysql_database, "auto_migrate": True},
            one_connection={"pool_size": 1, "max_overflow": 0},
            root=tmp_path,
        )
