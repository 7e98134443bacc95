"""Duplicate keys on MariaDB map to the same ``PatternError`` codes as on SQLite and
PostgreSQL: auth-jwt's own tests, collected again with the ``db`` instance on MariaDB.

The auth_jwt fixtures are imported so that their ``database`` dependency resolves to the
one below: the tests are the same code that runs on the other backends.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.patterns.auth_jwt.conftest import auth_app, make_app  # noqa: F401 (fixtures)
from tests.patterns.auth_jwt.test_flows import (
    test_create_user_joins_the_callers_transaction,
    test_duplicate_registration_is_a_conflict,
)
from tests.patterns.database.mysql_databases import shared_mysql_database  # noqa: F401

pytestmark = pytest.mark.mysql

__all__ = [
    "test_create_user_joins_the_callers_transaction",
    "test_duplicate_registration_is_a_conflict",
]


@pytest.fixture
def database(shared_mysql_database: str) -> dict[str, Any]:  # noqa: F811
    """The ``db`` instance on MariaDB (migrations run at start; emails are random)."""
    return {"use": "database-mysql", "url": shared_mysql_database, "auto_migrate": True}
