"""Races the row locks must win, and the contract on MySQL/MariaDB too.

Two owners demoting each other at once must leave one owner; two accepts of one token
must add one member (on PostgreSQL and MariaDB/MySQL). The contract runs here on
MariaDB/MySQL too, since the migrations are written for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rainmaker.capabilities.organizations import OWNER
from rainmaker.testing.contracts.organizations import OrganizationsContract
from tests.patterns.database.conftest import pg_url
from tests.patterns.database.mysql_databases import shared_mysql_database  # noqa: F401
from tests.patterns.organizations.conftest import OrgsApp

steps = OrganizationsContract()


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Server backends only: SQLite serialises writers by itself."""
    if request.param == "postgres":
        name = request.getfixturevalue("pg_database")
        return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}
    url = request.getfixturevalue("shared_mysql_database")
    return {"use": "database-mysql", "url": url, "auto_migrate": True}


async def test_two_owners_demoting_each_other_leave_one_owner(orgs_app: OrgsApp) -> None:
    owner = await steps.signup(orgs_app)
    org = await steps.create_org(orgs_app, owner)
    second = await steps.join(orgs_app, org, owner, OWNER)
    directory = orgs_app.directory
    results = await asyncio.gather(
        directory.change_role(org["id"], owner.id, "member"),
        directory.change_role(org["id"], second.id, "member"),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1, results
    assert getattr(refused[0], "code", None) == "org_last_owner"
    owners = [m for m in await directory.members(org["id"]) if m.role == OWNER]
    assert len(owners) == 1


async def test_one_token_accepted_twice_at_once_adds_one_member(orgs_app: OrgsApp) -> None:
    owner = await steps.signup(orgs_app)
    invitee = await steps.signup(orgs_app)
    org = await steps.create_org(orgs_app, owner)
    await steps.invite(orgs_app, org, owner, invitee.email, "member")
    token = orgs_app.invitation_token(invitee.email)
    directory = orgs_app.directory
    results = await asyncio.gather(
        directory.accept_invitation(token, invitee.id, invitee.email),
        directory.accept_invitation(token, invitee.id, invitee.email),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1, results
    assert getattr(refused[0], "code", None) in {"org_invitation_spent", "org_already_member"}
    assert [m.user_id for m in await directory.members(org["id"])].count(invitee.id) == 1


class TestContractOnMysql(OrganizationsContract):
    """The whole contract on MariaDB/MySQL (test_contract.py runs SQLite and PostgreSQL)."""

    @pytest.fixture(params=[pytest.param("mysql", marks=pytest.mark.mysql)])
    def database(self, request: pytest.FixtureRequest) -> dict[str, Any]:
        url = request.getfixturevalue("shared_mysql_database")
        return {"use": "database-mysql", "url": url, "auto_migrate": True}

    @pytest.fixture
    async def orgs_backend(self, orgs_app: OrgsApp) -> OrgsApp:
        return orgs_app
