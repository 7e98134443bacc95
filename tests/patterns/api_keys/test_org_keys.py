"""Organization API keys over HTTP: ``/orgs/{org}/api-keys`` for the organization's owners
and admins, keys that act as the organization itself in ``CurrentOrg`` with their scopes,
and that outlive the member who created them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from rainmaker.capabilities.organizations import OrganizationDirectory, Organizations
from tests.patterns.api_keys.apps.projects import projects
from tests.patterns.api_keys.conftest import KeysApp, MakeApp
from tests.patterns.api_keys.test_http import assert_problem, bearer

ORGS = {
    "mail": {"use": "email-console", "default_sender": "no-reply@example.com"},
    "orgs": {"use": "organizations"},
    "projects": {"use": "projects"},
}


@dataclass
class Team:
    """An app with organizations, and one organization: ada owns it, bob is an admin,
    cy a plain member."""

    keys: KeysApp
    orgs: OrganizationDirectory
    org: dict[str, Any]
    ada: dict[str, str]
    bob: dict[str, str]
    cy: dict[str, str]
    ids: dict[str, str]

    @property
    def path(self) -> str:
        return f"/orgs/{self.org['id']}/api-keys"

    async def org_key(self, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        answer = await self.keys.client.post(
            self.path, json={"name": "ci", **body}, headers=headers
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created


async def team_app(make_app: MakeApp, **options: Any) -> Team:
    extra = {**ORGS, **options.pop("extra", {})}
    keys = await make_app(extra=extra, local=[projects], **options)
    orgs = keys.app.services.require(Organizations)
    ids: dict[str, str] = {}
    headers: dict[str, dict[str, str]] = {}
    for name in ("ada", "bob", "cy"):
        user = await keys.auth.create_user(f"{name}-{secrets.token_hex(4)}@example.com", "pw-" * 6)
        ids[name] = user.id
        pair = await keys.auth.issue_tokens(user)
        headers[name] = {"Authorization": f"Bearer {pair.access_token}"}
    made = await keys.client.post(
        "/orgs",
        json={"slug": f"acme-{secrets.token_hex(3)}", "name": "Acme"},
        headers=headers["ada"],
    )
    assert made.status_code == 201, made.text
    org = made.json()
    await orgs.add_member(org["id"], ids["bob"], "admin")
    await orgs.add_member(org["id"], ids["cy"], "member")
    return Team(keys, orgs, org, headers["ada"], headers["bob"], headers["cy"], ids)


async def test_an_org_key_acts_as_the_organization_with_its_scopes(make_app: MakeApp) -> None:
    team = await team_app(make_app)
    client = team.keys.client
    created = await team.org_key(team.bob, scopes=["projects:write"])
    assert created["key"].startswith("rk_live_") and created["org_id"] == team.org["id"]
    key = created["key"]

    here = await client.get("/p/here", headers=bearer(key))  # no X-Organization needed
    assert here.status_code == 200, here.text
    assert here.json() == {"org": team.org["id"], "role": "member", "user": f"org:{team.org['id']}"}
    by_slug = await client.get(
        "/p/here", headers={"X-API-Key": key, "X-Organization": team.org["slug"]}
    )
    assert by_slug.json()["org"] == team.org["id"]
    made = await client.post("/p/projects", headers=bearer(key))
    assert made.status_code == 201 and made.json()["by"] == f"org:{team.org['id']}"
    # No role: the organization's admin routes stay closed to its keys.
    assert_problem(await client.get("/p/settings", headers=bearer(key)), 403, "org_role_required")
    reader = (await team.org_key(team.ada, name="read", scopes=["projects:read"]))["key"]
    assert_problem(
        await client.post("/p/projects", headers=bearer(reader)), 403, "insufficient_permission"
    )
    listed = (await client.get(team.path, headers=team.ada)).json()["api_keys"]
    assert sorted(k["id"] for k in listed) == sorted([created["id"], listed[0]["id"]])
    assert key not in str(listed) and all(k["org_id"] == team.org["id"] for k in listed)
    # They are the organization's, not anyone's personal keys.
    assert (await client.get("/api-keys", headers=team.bob)).json()["api_keys"] == []
    assert_problem(
        await client.delete(f"/api-keys/{created['id']}", headers=team.bob),
        404,
        "api_key_not_found",
    )


async def test_a_tenant_header_naming_another_org_is_404(make_app: MakeApp) -> None:
    team = await team_app(make_app)
    client = team.keys.client
    other = await client.post(
        "/orgs", json={"slug": f"other-{secrets.token_hex(3)}", "name": "Other"}, headers=team.cy
    )
    assert other.status_code == 201
    key = (await team.org_key(team.ada, scopes=["projects:write"]))["key"]
    for named in (other.json()["id"], other.json()["slug"], "no-such-org"):
        refused = await client.get("/p/here", headers={**bearer(key), "X-Organization": named})
        assert_problem(refused, 404, "org_not_found")
    # A user naming an organization they are not in: 404 as well, exactly like none.
    not_in = await client.get("/p/here", headers={**team.bob, "X-Organization": other.json()["id"]})
    assert_problem(not_in, 404, "org_not_found")
    assert (
        not_in.json()["detail"].replace(other.json()["id"], "X")
        == (await client.get("/p/here", headers={**team.bob, "X-Organization": "X"})).json()[
            "detail"
        ]
    )


async def test_only_owners_and_admins_manage_org_keys(make_app: MakeApp) -> None:
    team = await team_app(make_app)
    client = team.keys.client
    created = await team.org_key(team.bob, scopes=["projects:read"])
    for answer in (
        await client.post(team.path, json={"name": "x"}, headers=team.cy),
        await client.get(team.path, headers=team.cy),
        await client.delete(f"{team.path}/{created['id']}", headers=team.cy),
        await client.post(f"{team.path}/{created['id']}/rotate", headers=team.cy),
    ):
        assert_problem(answer, 403, "org_role_required")
    # An organization's key manages no keys, whatever its scopes.
    manager = (await team.org_key(team.ada, name="m", scopes=["api-keys:manage"]))["key"]
    assert_problem(await client.get(team.path, headers=bearer(manager)), 403, "org_role_required")
    assert_problem(
        await client.post("/api-keys", json={"name": "x"}, headers=bearer(manager)),
        403,
        "api_key_scope_required",
    )
    # An admin's personal key scoped to manage keys may, granting only what it holds.
    personal = (await team.keys.new_key(team.bob, scopes=["api-keys:manage", "projects:read"]))[
        "key"
    ]
    assert_problem(
        await client.post(
            team.path, json={"name": "x", "scopes": ["projects:write"]}, headers=bearer(personal)
        ),
        403,
        "api_key_scope_required",
    )
    ok = await client.post(
        team.path, json={"name": "x", "scopes": ["projects:read"]}, headers=bearer(personal)
    )
    assert ok.status_code == 201, ok.text


async def test_a_removed_member_keeps_the_org_keys_working_but_cannot_manage_them(
    make_app: MakeApp,
) -> None:
    team = await team_app(make_app)
    client = team.keys.client
    created = await team.org_key(team.bob, scopes=["projects:write"])
    await team.orgs.remove_member(team.org["id"], team.ids["bob"])
    assert (await client.post("/p/projects", headers=bearer(created["key"]))).status_code == 201
    for answer in (
        await client.get(team.path, headers=team.bob),
        await client.delete(f"{team.path}/{created['id']}", headers=team.bob),
    ):
        assert_problem(answer, 404, "org_not_found")
    # The owner rotates it, then revokes the new one.
    rotated = await client.post(
        f"{team.path}/{created['id']}/rotate", json={"overlap": 0}, headers=team.ada
    )
    assert rotated.status_code == 201, rotated.text
    assert_problem(
        await client.get("/p/here", headers=bearer(created["key"])), 401, "api_key_expired"
    )
    new = rotated.json()
    assert (await client.get("/p/here", headers=bearer(new["key"]))).status_code == 200
    assert (await client.delete(f"{team.path}/{new['id']}", headers=team.ada)).status_code == 204
    assert_problem(await client.get("/p/here", headers=bearer(new["key"])), 401, "api_key_revoked")


async def test_bad_org_key_requests_have_stable_codes(make_app: MakeApp) -> None:
    team = await team_app(make_app)
    client = team.keys.client
    unknown = await client.post(
        team.path, json={"name": "ci", "scopes": ["billing:write"]}, headers=team.ada
    )
    assert_problem(unknown, 422, "api_key_scope_unknown")
    assert "billing:write" in unknown.json()["detail"]
    outsider = await team.keys.token()
    assert_problem(await client.get(team.path, headers=outsider), 404, "org_not_found")
    assert_problem(
        await client.get("/orgs/no-such-org/api-keys", headers=team.ada), 404, "org_not_found"
    )
    assert_problem(
        await client.delete(f"{team.path}/{'0' * 36}", headers=team.ada), 404, "api_key_not_found"
    )


async def test_a_deleted_organizations_keys_are_refused(make_app: MakeApp) -> None:
    team = await team_app(make_app)
    key = (await team.org_key(team.ada, scopes=["projects:read"]))["key"]
    await team.orgs.delete(team.org["id"])
    assert_problem(
        await team.keys.client.get("/p/here", headers=bearer(key)), 403, "api_key_owner_disabled"
    )


async def test_org_keys_have_per_key_rate_limits(make_app: MakeApp) -> None:
    team = await team_app(
        make_app,
        keys={"rate_limit_policy": "per-key"},
        extra={"limits": {"use": "rate-limit", "policies": {"per-key": {"limit": "2/minute"}}}},
    )
    first = (await team.org_key(team.ada, scopes=["projects:read"]))["key"]
    second = (await team.org_key(team.ada, name="b", scopes=["projects:read"]))["key"]
    client = team.keys.client
    for _ in range(2):
        assert (await client.get("/p/here", headers=bearer(first))).status_code == 200
    refused = await client.get("/p/here", headers=bearer(first))
    assert_problem(refused, 429, "rate_limited")
    assert "retry-after" in refused.headers
    assert (await client.get("/p/here", headers=bearer(second))).status_code == 200


async def test_the_org_routes_are_documented(make_app: MakeApp) -> None:
    team = await team_app(make_app)
    document = (await team.keys.client.get("/openapi.json")).json()
    paths = document["paths"]
    assert {"/api-keys", "/orgs/{org}/api-keys", "/orgs/{org}/api-keys/{key_id}/rotate"} <= set(
        paths
    )
    assert {"201", "403", "404"} <= set(paths["/orgs/{org}/api-keys"]["post"]["responses"])
