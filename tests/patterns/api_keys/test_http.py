"""API keys over HTTP: the /api-keys routes, and keys authenticating on another pattern's
routes through rainmaker.http's guards (which know nothing about keys)."""

from __future__ import annotations

from typing import Any

import pytest

from rainmaker import StartupError
from tests.patterns.api_keys.apps.things import things
from tests.patterns.api_keys.conftest import PASSWORD, KeysApp, MakeApp


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code, answer.json()


async def things_app(make_app: MakeApp, **options: Any) -> KeysApp:
    return await make_app(extra={"things": {"use": "things"}}, local=[things], **options)


async def test_a_key_is_answered_once_then_listed_without_its_secret(make_app: MakeApp) -> None:
    keys = await make_app()
    ada = await keys.token()
    created = await keys.new_key(ada, scopes=["projects:write"])
    assert created["key"].startswith("rk_live_") and created["key"].startswith(created["prefix"])
    assert created["scopes"] == ["projects:write"] and created["expires_at"] is None
    listed = (await keys.client.get("/api-keys", headers=ada)).json()["api_keys"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and created["key"] not in str(listed)


async def test_bearer_and_x_api_key_authenticate_as_the_owner_with_the_keys_scopes(
    make_app: MakeApp,
) -> None:
    keys = await things_app(make_app)
    ada = await keys.token("ada@example.com")
    writer = (await keys.new_key(ada, scopes=["projects:write"]))["key"]
    reader = (await keys.new_key(ada, name="read", scopes=["projects:read"]))["key"]
    for headers in (bearer(writer), {"X-API-Key": writer}):
        me = await keys.client.get("/t/me", headers=headers)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "ada@example.com"
        assert me.json()["scopes"] == ["projects:write"]
        assert (await keys.client.post("/t/things", headers=headers)).status_code == 201
    assert (await keys.client.get("/t/maybe", headers={"X-API-Key": reader})).json()["id"]
    assert_problem(
        await keys.client.post("/t/things", headers=bearer(reader)), 403, "insufficient_permission"
    )
    # An access token still works beside keys; no credential is still a 401.
    assert (await keys.client.get("/t/me", headers=ada)).status_code == 200
    assert (await keys.client.get("/t/me")).status_code == 401


async def test_keys_carry_no_roles(make_app: MakeApp) -> None:
    keys = await things_app(make_app)
    admin = await keys.token(role="admin")
    assert (await keys.client.get("/t/admin", headers=admin)).status_code == 200
    key = (await keys.new_key(admin, scopes=["projects:read"]))["key"]
    assert_problem(
        await keys.client.get("/t/admin", headers=bearer(key)), 403, "insufficient_permission"
    )


async def test_an_unknown_scope_is_refused_at_creation(make_app: MakeApp) -> None:
    keys = await make_app()
    ada = await keys.token()
    answer = await keys.client.post(
        "/api-keys", json={"name": "ci", "scopes": ["billing:write"]}, headers=ada
    )
    assert_problem(answer, 422, "api_key_scope_unknown")
    assert "billing:write" in answer.json()["detail"]


async def test_an_expiry_in_the_past_is_refused(make_app: MakeApp) -> None:
    keys = await make_app()
    answer = await keys.client.post(
        "/api-keys",
        json={"name": "ci", "expires_at": "2001-01-01T00:00:00Z"},
        headers=await keys.token(),
    )
    assert_problem(answer, 422, "api_key_expiry_invalid")


async def test_revoked_expired_and_unknown_keys_are_401_with_their_codes(
    make_app: MakeApp,
) -> None:
    keys = await things_app(make_app)
    ada = await keys.token()
    revoked = await keys.new_key(ada, name="revoked")
    assert (await keys.client.delete(f"/api-keys/{revoked['id']}", headers=ada)).status_code == 204
    assert_problem(
        await keys.client.get("/t/me", headers=bearer(revoked["key"])), 401, "api_key_revoked"
    )
    rotated = await keys.new_key(ada, name="rotated")
    answer = await keys.client.post(
        f"/api-keys/{rotated['id']}/rotate", json={"overlap": 0}, headers=ada
    )
    assert answer.status_code == 201, answer.text
    assert_problem(
        await keys.client.get("/t/me", headers=bearer(rotated["key"])), 401, "api_key_expired"
    )
    assert (await keys.client.get("/t/me", headers=bearer(answer.json()["key"]))).status_code == 200
    forged = rotated["key"][:-3] + "xyz"
    assert_problem(await keys.client.get("/t/me", headers=bearer(forged)), 401, "api_key_invalid")
    assert_problem(
        await keys.client.get("/t/me", headers={"X-API-Key": "not-a-key"}), 401, "invalid_token"
    )


async def test_rotation_with_overlap_keeps_the_old_key_working(make_app: MakeApp) -> None:
    keys = await things_app(make_app)
    ada = await keys.token()
    old = await keys.new_key(ada, scopes=["projects:read"])
    answer = await keys.client.post(f"/api-keys/{old['id']}/rotate", headers=ada)
    assert answer.status_code == 201
    new = answer.json()
    assert new["rotated_from"] == old["id"] and new["scopes"] == ["projects:read"]
    for key in (old["key"], new["key"]):
        assert (await keys.client.get("/t/me", headers=bearer(key))).status_code == 200


async def test_a_key_without_the_manage_scope_cannot_manage_keys(make_app: MakeApp) -> None:
    keys = await make_app()
    ada = await keys.token()
    plain = await keys.new_key(ada, scopes=["projects:write"])
    headers = bearer(plain["key"])
    for method, path, body in (
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", {"name": "more"}),
        ("DELETE", f"/api-keys/{plain['id']}", None),
        ("POST", f"/api-keys/{plain['id']}/rotate", None),
    ):
        answer = await keys.client.request(method, path, json=body, headers=headers)
        assert_problem(answer, 403, "api_key_scope_required")
    assert len((await keys.client.get("/api-keys", headers=ada)).json()["api_keys"]) == 1


async def test_a_managing_key_may_grant_only_scopes_it_holds(make_app: MakeApp) -> None:
    keys = await make_app()
    ada = await keys.token()
    manager = bearer((await keys.new_key(ada, scopes=["api-keys:manage", "projects:read"]))["key"])
    assert (await keys.client.get("/api-keys", headers=manager)).status_code == 200
    narrow = await keys.client.post(
        "/api-keys", json={"name": "narrow", "scopes": ["projects:read"]}, headers=manager
    )
    assert narrow.status_code == 201
    wider = await keys.client.post(
        "/api-keys", json={"name": "wider", "scopes": ["projects:write"]}, headers=manager
    )
    assert_problem(wider, 403, "api_key_scope_required")


async def test_keys_cannot_change_the_password(make_app: MakeApp) -> None:
    keys = await make_app()
    ada = await keys.token()
    key = (await keys.new_key(ada, scopes=["api-keys:manage"]))["key"]
    answer = await keys.client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "another horse battery staple"},
        headers=bearer(key),
    )
    assert answer.status_code == 401, answer.text  # auth-jwt's own routes take tokens only


async def test_another_owners_key_is_not_found(make_app: MakeApp) -> None:
    keys = await make_app()
    ada, bob = await keys.token(), await keys.token()
    key = await keys.new_key(ada)
    assert_problem(
        await keys.client.delete(f"/api-keys/{key['id']}", headers=bob), 404, "api_key_not_found"
    )
    assert_problem(
        await keys.client.post(f"/api-keys/{key['id']}/rotate", headers=bob),
        404,
        "api_key_not_found",
    )


async def test_a_disabled_owners_keys_are_refused(make_app: MakeApp) -> None:
    keys = await things_app(make_app)
    user = await keys.auth.create_user("dis@example.com", PASSWORD)
    pair = await keys.auth.issue_tokens(user)
    key = (await keys.new_key(bearer(pair.access_token)))["key"]
    await keys.auth.disable_user(user.id)
    assert_problem(
        await keys.client.get("/t/me", headers=bearer(key)), 403, "api_key_owner_disabled"
    )


async def test_per_key_rate_limits_from_rate_limit(make_app: MakeApp) -> None:
    keys = await make_app(
        keys={"rate_limit_policy": "per-key"},
        extra={
            "things": {"use": "things"},
            "limits": {"use": "rate-limit", "policies": {"per-key": {"limit": "2/minute"}}},
        },
        local=[things],
    )
    ada = await keys.token()
    one, other = (await keys.new_key(ada))["key"], (await keys.new_key(ada, name="b"))["key"]
    assert (await keys.client.get("/t/me", headers=bearer(one))).status_code == 200
    assert (await keys.client.get("/t/me", headers=bearer(one))).status_code == 200
    refused = await keys.client.get("/t/me", headers=bearer(one))
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1 and refused.headers["RateLimit-Limit"] == "2"
    assert (await keys.client.get("/t/me", headers=bearer(other))).status_code == 200
    assert (await keys.client.get("/t/me", headers=ada)).status_code == 200  # tokens: not keys


async def test_routes_show_as_authenticated(make_app: MakeApp) -> None:
    keys = await things_app(make_app)
    rows = {(row.path, row.methods): row.auth for row in keys.app.http_module().routes()}  # type: ignore[attr-defined]
    assert rows[("/api-keys", ("GET",))] == "yes"
    assert rows[("/api-keys/{key_id}/rotate", ("POST",))] == "yes"
    assert rows[("/t/maybe", ("GET",))] == "optional"


async def test_a_rate_limit_policy_needs_a_rate_limit_instance_declaring_it(
    make_app: MakeApp,
) -> None:
    with pytest.raises(StartupError, match="rate_limit_policy"):
        await make_app(keys={"rate_limit_policy": "per-key"})
    with pytest.raises(StartupError, match=r"declared: (.*, )?other\b"):
        await make_app(
            keys={"rate_limit_policy": "per-key"},
            extra={"limits": {"use": "rate-limit", "policies": {"other": {"limit": "1/second"}}}},
        )
