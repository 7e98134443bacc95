"""An organization that requires two-factor authentication (``require_two_factor``):
``CurrentOrg`` and ``require_org_role`` refuse members whose token lacks ``otp`` in its
``amr``, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from rainmaker.capabilities.organizations import Organizations
from tests.patterns.auth_jwt.conftest import AuthApp, MakeApp, assert_problem, bearer
from tests.patterns.auth_jwt.test_two_factor import TWO_FACTOR, challenge, code, enrolled

ORGS = {"orgs": {"use": "organizations"}}


async def second_factor_login(app: AuthApp, email: str, secret: str, offset: int) -> str:
    token = await challenge(app, email)
    answer = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": token, "code": code(secret, offset)}
    )
    assert answer.status_code == 200, answer.text
    access: str = answer.json()["access_token"]
    return access


async def test_org_requiring_two_factor_refuses_sessions_without_it(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR, extra=ORGS)
    email, secret, _ = await enrolled(app)
    owner = await second_factor_login(app, email, secret, 1)
    answer = await app.client.post(
        "/orgs", json={"name": "Acme", "slug": "acme-2fa"}, headers=bearer(owner)
    )
    assert answer.status_code == 201, answer.text
    org: dict[str, Any] = answer.json()
    assert org["require_two_factor"] is False

    # A member who logs in with a password only.
    member_email = await app.register()
    member = (await app.login(member_email))["access_token"]
    assert app.auth.codec.decode(member, "access")["amr"] == ["pwd"]
    user = await app.auth.get_user_by_email(member_email)
    assert user is not None
    directory = app.app.services.require(Organizations)
    await directory.add_member(org["id"], user.id, "admin")
    path = f"/orgs/{org['id']}"
    assert (await app.client.get(path, headers=bearer(member))).status_code == 200

    # Without a second factor of its own, the admin cannot switch the requirement on.
    assert_problem(
        await app.client.patch(path, json={"require_two_factor": True}, headers=bearer(member)),
        403,
        "org_two_factor_required",
    )
    answer = await app.client.patch(path, json={"require_two_factor": True}, headers=bearer(owner))
    assert answer.status_code == 200, answer.text
    assert answer.json()["require_two_factor"] is True

    # From the next request on: the password-only session is refused, through CurrentOrg
    # (GET) and require_org_role (the admin-only member list change alike).
    assert_problem(
        await app.client.get(path, headers=bearer(member)), 403, "org_two_factor_required"
    )
    assert_problem(
        await app.client.patch(path, json={"name": "Renamed"}, headers=bearer(member)),
        403,
        "org_two_factor_required",
    )
    # A non-member still gets 404, not a hint that the organization exists.
    stranger = (await app.login(await app.register()))["access_token"]
    assert_problem(await app.client.get(path, headers=bearer(stranger)), 404, "org_not_found")
    # The session with a second factor acts as before.
    assert (await app.client.get(path, headers=bearer(owner))).status_code == 200
    # And the member may act again once they log in with 2FA.
    enrol = await app.client.post("/auth/2fa/enrol", headers=bearer(member))
    member_secret = enrol.json()["secret"]
    confirmed = await app.client.post(
        "/auth/2fa/confirm", json={"code": code(member_secret)}, headers=bearer(member)
    )
    assert confirmed.status_code == 200, confirmed.text
    # The old password-only session stays refused: the token, not the account, decides.
    assert_problem(
        await app.client.get(path, headers=bearer(member)), 403, "org_two_factor_required"
    )
    fresh = await second_factor_login(app, member_email, member_secret, 1)
    assert (await app.client.get(path, headers=bearer(fresh))).status_code == 200
