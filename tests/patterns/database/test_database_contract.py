"""Both database patterns pass the ``Database`` contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from rainmaker.testing.contracts.database import DatabaseContract, DatabaseUnderTest
from tests.patterns.database.conftest import BACKENDS, pg_url


class TestDatabaseContract(DatabaseContract):
    @pytest.fixture(params=BACKENDS)
    def database_under_test(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> DatabaseUnderTest:
        if request.param == "sqlite":
            return DatabaseUnderTest(
                use="database-sqlite",
                settings={"path": "contract.db"},
                one_connection={"pool_size": 1},
                root=tmp_path,
            )
        name = request.getfixturevalue("shared_pg_database")
        return DatabaseUnderTest(
            use="database-postgres",
            settings={"url": pg_url(name), "auto_migrate": True},
            one_connection={"pool_size": 1, "max_overflow": 0},
            root=tmp_path,
        )
