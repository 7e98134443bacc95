"""Tenancy at the seam: ``CurrentOrg`` and ``require_org_role`` on an app-local pattern's
routes (header and path), app-declared roles, and a cross-tenant attempt through every
route of that pattern — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from rainmaker.testing.contracts.organizations import OrgUser, assert_problem
from tests.patterns.organizations.conftest import MakeApp, OrgsApp
from tests.patterns.organizations.tenant_app import projects_pattern

ROLES = ["owner", "admin", "billing", "member", "viewer"]


class Tenants:
    """Helpers over the contract's signup/join, for an app with the projects pattern."""

    def __init__(self, app: OrgsApp) -> None:
        from rainmaker.testing.contracts.organizations import OrganizationsContract

        self.app = app
        self.steps = OrganizationsContract()

    async def user(self) -> OrgUser:
        return await self.steps.signup(self.app)

    async def org(self, owner: OrgUser) -> dict[str, Any]:
        return await self.steps.create_org(self.app, owner)

    async def join(self, org: dict[str, Any], owner: OrgUser, role: str) -> OrgUser:
        return await self.steps.join(self.app, org, owner, role)


@pytest.fixture
async def tenants(make_app: MakeApp) -> Tenants:
    app = await make_app(
        orgs={"roles": ROLES},
        extra={"projects": {"use": "test-projects"}},
        extra_patterns=[projects_pattern],
    )
    return Tenants(app)


def in_org(user: OrgUser, org: dict[str, Any] | str) -> dict[str, str]:
    name = org if isinstance(org, str) else org["slug"]
    return {**user.headers, "X-Organization": name}


async def test_the_header_names_the_organization(tenants: Tenants) -> None:
    client = tenants.app.client
    owner = await tenants.user()
    org = await tenants.org(owner)
    for name in (org["id"], org["slug"], org["slug"].upper()):
        answer = await client.get("/projects", headers=in_org(owner, name))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"org": org["slug"], "role": "owner", "projects": []}
    missing = await client.get("/projects", headers=owner.headers)
    body = assert_problem(missing, 422, "org_required")
    assert "X-Organization" in body["detail"]
    assert (await client.get("/projects", headers={"X-Organization": org["id"]})).status_code == 401


async def test_current_org_or_first_falls_back_to_the_oldest_membership(
    tenants: Tenants,
) -> None:
    client = tenants.app.client
    loner = await tenants.user()
    none = await client.get("/where", headers=loner.headers)
    assert "POST /orgs" in assert_problem(none, 422, "org_required")["detail"]
    owner = await tenants.user()
    first = await tenants.org(owner)
    second = await tenants.org(owner)
    answer = await client.get("/where", headers=owner.headers)
    assert answer.json() == {"org": first["slug"], "role": "owner"}
    named = await client.get("/where", headers=in_org(owner, second))
    assert named.json() == {"org": second["slug"], "role": "owner"}
    foreign = await client.get("/where", headers=in_org(loner, first))
    assert_problem(foreign, 404, "org_not_found")


async def test_app_declared_roles_rank_where_the_settings_put_them(tenants: Tenants) -> None:
    client = tenants.app.client
    owner = await tenants.user()
    org = await tenants.org(owner)
    viewer = await tenants.join(org, owner, "viewer")
    billing = await tenants.join(org, owner, "billing")
    # member or better may create: billing ranks above member, viewer below.
    refused = await client.post("/projects", json={"name": "x"}, headers=in_org(viewer, org))
    body = assert_problem(refused, 403, "org_role_required")
    assert "'member'" in body["detail"] and "'viewer'" in body["detail"]
    made = await client.post("/projects", json={"name": "x"}, headers=in_org(billing, org))
    assert made.status_code == 201, made.text
    # admin or better may delete: billing is below admin.
    project = made.json()["id"]
    delete = await client.delete(f"/projects/{project}", headers=in_org(billing, org))
    assert_problem(delete, 403, "org_role_required")
    assert (
        await client.delete(f"/projects/{project}", headers=in_org(owner, org))
    ).status_code == 204
    # The viewer can read; a promotion counts on the next request.
    assert (await client.get("/projects", headers=in_org(viewer, org))).json()["role"] == "viewer"
    changed = await client.patch(
        f"/orgs/{org['id']}/members/{viewer.id}", json={"role": "member"}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    again = await client.post("/projects", json={"name": "y"}, headers=in_org(viewer, org))
    assert again.status_code == 201, again.text


async def test_no_route_reads_across_tenants(tenants: Tenants) -> None:
    client = tenants.app.client
    alice, bob = await tenants.user(), await tenants.user()
    org_a, org_b = await tenants.org(alice), await tenants.org(bob)
    secret = await client.post("/projects", json={"name": "A's plan"}, headers=in_org(alice, org_a))
    assert secret.status_code == 201
    project = secret.json()["id"]
    mine = await client.post("/projects", json={"name": "B's"}, headers=in_org(bob, org_b))
    assert mine.status_code == 201

    # Bob names Alice's organization: 404, as if it did not exist (ids don't leak).
    for method, path, body in [
        ("GET", "/projects", None),
        ("POST", "/projects", {"name": "intruder"}),
        ("GET", f"/projects/{project}", None),
        ("DELETE", f"/projects/{project}", None),
    ]:
        answer = await client.request(method, path, json=body, headers=in_org(bob, org_a))
        assert_problem(answer, 404, "org_not_found")
    for path in (f"/orgs/{org_a['id']}/projects", f"/orgs/{org_a['slug']}/projects"):
        assert_problem(await client.get(path, headers=bob.headers), 404, "org_not_found")
    # Every route of the organizations pattern that names Alice's organization.
    org = org_a["id"]
    for method, path, body in [
        ("GET", f"/orgs/{org}", None),
        ("PATCH", f"/orgs/{org}", {"name": "mine"}),
        ("DELETE", f"/orgs/{org}", None),
        ("POST", f"/orgs/{org}/transfer", {"user_id": bob.id}),
        ("GET", f"/orgs/{org}/members", None),
        ("PATCH", f"/orgs/{org}/members/{alice.id}", {"role": "member"}),
        ("DELETE", f"/orgs/{org}/members/{alice.id}", None),
        ("POST", f"/orgs/{org}/invitations", {"email": "evil@example.com"}),
        ("GET", f"/orgs/{org}/invitations", None),
        ("DELETE", f"/orgs/{org}/invitations/some-id", None),
    ]:
        answer = await client.request(method, path, json=body, headers=bob.headers)
        assert_problem(answer, 404, "org_not_found")

    # In his own organization Bob sees his own rows only; Alice's id finds nothing there.
    listed = (await client.get("/projects", headers=in_org(bob, org_b))).json()["projects"]
    assert [p["name"] for p in listed] == ["B's"]
    assert_problem(
        await client.get(f"/projects/{project}", headers=in_org(bob, org_b)), 404, "not_found"
    )
    assert_problem(
        await client.delete(f"/projects/{project}", headers=in_org(bob, org_b)), 404, "not_found"
    )
    # Alice's project is intact.
    kept = await client.get(f"/projects/{project}", headers=in_org(alice, org_a))
    assert kept.status_code == 200 and kept.json()["name"] == "A's plan"


async def test_a_removed_member_loses_access_on_the_next_request(tenants: Tenants) -> None:
    client = tenants.app.client
    owner = await tenants.user()
    org = await tenants.org(owner)
    member = await tenants.join(org, owner, "member")
    assert (await client.get("/projects", headers=in_org(member, org))).status_code == 200
    removed = await client.delete(f"/orgs/{org['id']}/members/{member.id}", headers=owner.headers)
    assert removed.status_code == 204
    # Same access token, next request: the membership is read again, not trusted.
    assert_problem(await client.get("/projects", headers=in_org(member, org)), 404, "org_not_found")
