"""The auth + payments signup saga on MariaDB: a failure after the provider-side customer
was created leaves nothing behind on either side.

The same test as on SQLite and PostgreSQL (tests/patterns/payments/test_signup_saga.py),
collected again here with the ``db`` instance on MariaDB: the transactional guarantee is
the database's, so it is proved on each database.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.patterns.database.mysql_databases import shared_mysql_database  # noqa: F401
from tests.patterns.payments.conftest import localstripe, make_app  # noqa: F401 (fixtures)
from tests.patterns.payments.test_signup_saga import (
    test_failure_after_provider_create_leaves_nothing_behind,
)

pytestmark = pytest.mark.mysql

__all__ = ["test_failure_after_provider_create_leaves_nothing_behind"]


@pytest.fixture
def database(shared_mysql_database: str) -> dict[str, Any]:  # noqa: F811
    return {"use": "database-mysql", "url": shared_mysql_database, "auto_migrate": True}
