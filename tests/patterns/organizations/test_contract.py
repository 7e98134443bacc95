"""The ``organizations`` pattern passes the ``Organizations`` contract, on SQLite and
PostgreSQL (the ``database`` fixture's two parameters)."""

from __future__ import annotations

import pytest

from rainmaker.testing.contracts.organizations import OrganizationsContract
from tests.patterns.organizations.conftest import OrgsApp


class TestOrganizationsPattern(OrganizationsContract):
    @pytest.fixture
    async def orgs_backend(self, orgs_app: OrgsApp) -> OrgsApp:
        return orgs_app
