"""The whole sign-in against a real OpenID Connect provider: new users through Auth, the
one-time code for the front end, linking, identities, key rotation."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from rainmaker.capabilities.auth import User
from tests.patterns.oauth_login.conftest import FRONT_END, MakeApp
from tests.patterns.oauth_login.oidc_server import OidcProvider

# The provider (oidc-provider-mock) calls a deprecated Authlib server API on its own
# threads; that is its code, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


def assert_problem(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code, answer.json()


async def test_the_authorize_redirect_carries_pkce_state_and_nonce(make_app: MakeApp) -> None:
    sso = await make_app()
    started = await sso.authorize()
    assert started.status_code == 302
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["rainmaker-tests"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == ["http://testserver/auth/oauth/corp/callback"]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert "httponly" in started.headers["set-cookie"].lower()


async def test_a_new_user_signs_in_and_is_created_through_auth(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    created: list[User] = []

    async def hook(user: User) -> None:
        created.append(user)

    sso.auth.on_user_created(hook)
    provider.set_user("alice", email="alice@example.com", email_verified=True)
    answer = await sso.sign_in("alice")
    assert answer.status_code == 200, answer.text
    pair = answer.json()
    assert pair["token_type"] == "bearer" and pair["access_token"] and pair["refresh_token"]
    assert [user.email for user in created] == ["alice@example.com"]  # the signup hooks ran
    me = await sso.client.get(
        "/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["verified"] is True
    assert await sso.auth.has_password(me.json()["id"]) is False
    # No usable password: a password login for the account fails like a wrong password.
    login = await sso.client.post(
        "/auth/login", json={"email": "alice@example.com", "password": "x" * 12}
    )
    assert login.status_code == 401
    # Signing in again finds the same account (no second creation).
    again = await sso.sign_in("alice")
    assert again.status_code == 200 and len(created) == 1


async def test_with_next_the_front_end_gets_a_one_time_code_never_a_token(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("bob", email="bob@example.com", email_verified=True)
    answer = await sso.sign_in("bob", next=f"{FRONT_END}/welcome?tab=1")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{FRONT_END}/welcome"
    query = parse_qs(target.query)
    assert query["tab"] == ["1"] and set(query) == {"tab", "oauth_code"}
    assert "access_token" not in answer.headers["location"]
    code = query["oauth_code"][0]
    pair = await sso.client.post("/auth/oauth/exchange", json={"code": code})
    assert pair.status_code == 200 and pair.json()["access_token"]
    assert_problem(
        await sso.client.post("/auth/oauth/exchange", json={"code": code}),
        401,
        "oauth_exchange_code_invalid",
    )


async def test_a_verified_email_of_an_existing_account_links_only_from_inside_it(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    headers = await sso.bearer("carol@example.com")
    provider.set_user("carol-at-corp", email="carol@example.com", email_verified=True)
    # The provider's word alone never hands over the existing account.
    assert_problem(await sso.sign_in("carol-at-corp"), 409, "oauth_account_exists")
    # Signed in, carol links the provider; from then on it signs her in.
    linking = await sso.client.post("/auth/oauth/corp/link", headers=headers, json={})
    assert linking.status_code == 200, linking.text
    url = urlsplit(linking.json()["authorize_url"])
    started = await sso.client.get(f"{url.path}?{url.query}")
    assert started.status_code == 302, started.text
    answer = await sso.client.get(await sso.consent(started.headers["location"], "carol-at-corp"))
    assert answer.status_code == 200, answer.text
    listed = (await sso.client.get("/auth/identities", headers=headers)).json()["identities"]
    assert [(i["provider"], i["subject"], i["email"]) for i in listed] == [
        ("corp", "carol-at-corp", "carol@example.com")
    ]
    again = await sso.sign_in("carol-at-corp")
    me = await sso.client.get(
        "/auth/me", headers={"Authorization": f"Bearer {again.json()['access_token']}"}
    )
    assert me.json()["email"] == "carol@example.com"
    # A link ticket is single-use.
    assert_problem(await sso.client.get(f"{url.path}?{url.query}"), 400, "oauth_state_invalid")


async def test_an_unverified_email_never_links(make_app: MakeApp, provider: OidcProvider) -> None:
    sso = await make_app()
    await sso.bearer("dave@example.com")
    provider.set_user("mallory", email="dave@example.com", email_verified=False)
    answer = await sso.sign_in("mallory")
    assert_problem(answer, 409, "oauth_account_exists")
    assert "does not vouch" in answer.json()["detail"]


async def test_an_identity_linked_to_someone_else_is_refused_when_linking(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("erin", email="erin@example.com", email_verified=True)
    assert (await sso.sign_in("erin")).status_code == 200
    frank = await sso.bearer("frank@example.com")
    linking = await sso.client.post("/auth/oauth/corp/link", headers=frank)
    url = urlsplit(linking.json()["authorize_url"])
    started = await sso.client.get(f"{url.path}?{url.query}")
    answer = await sso.client.get(await sso.consent(started.headers["location"], "erin"))
    assert_problem(answer, 409, "oauth_identity_taken")


async def test_unlinking_the_only_way_in_is_refused(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("gina", email="gina@example.com", email_verified=True)
    pair = (await sso.sign_in("gina")).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    (identity,) = (await sso.client.get("/auth/identities", headers=headers)).json()["identities"]
    assert_problem(
        await sso.client.delete(f"/auth/identities/{identity['id']}", headers=headers),
        409,
        "oauth_last_sign_in_method",
    )
    assert_problem(
        await sso.client.delete("/auth/identities/nope", headers=headers),
        404,
        "oauth_identity_not_found",
    )
    # With a password (or another identity), unlinking is allowed.
    henry = await sso.bearer("henry@example.com")
    linking = await sso.client.post("/auth/oauth/corp/link", headers=henry)
    url = urlsplit(linking.json()["authorize_url"])
    started = await sso.client.get(f"{url.path}?{url.query}")
    assert (await sso.client.get(await sso.consent(started.headers["location"], "h"))).is_success
    (linked,) = (await sso.client.get("/auth/identities", headers=henry)).json()["identities"]
    gone = await sso.client.delete(f"/auth/identities/{linked['id']}", headers=henry)
    assert gone.status_code == 204
    assert (await sso.client.get("/auth/identities", headers=henry)).json()["identities"] == []


async def test_key_rotation_refetches_the_jwks_once(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("ivy", email="ivy@example.com", email_verified=True)
    assert (await sso.sign_in("ivy")).status_code == 200
    assert (await sso.sign_in("ivy")).status_code == 200
    assert provider.jwks_fetches == 1  # cached between sign-ins
    old = provider.own_kid()
    provider.rotate_keys()
    assert provider.own_kid() != old
    answer = await sso.sign_in("ivy")
    assert answer.status_code == 200, answer.text
    assert provider.jwks_fetches == 2  # the unknown kid made it fetch the new key once
    assert (await sso.sign_in("ivy")).status_code == 200
    assert provider.jwks_fetches == 2


async def test_the_providers_are_listed_for_sign_in_buttons(make_app: MakeApp) -> None:
    sso = await make_app()
    listed = (await sso.client.get("/auth/oauth/providers")).json()["providers"]
    assert listed == [{"name": "corp", "label": "Corp"}]


async def test_two_unlinks_at_once_never_leave_an_account_without_a_way_in(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("kim", email="kim@example.com", email_verified=True)
    pair = (await sso.sign_in("kim")).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    linking = await sso.client.post("/auth/oauth/corp/link", headers=headers)
    url = urlsplit(linking.json()["authorize_url"])
    started = await sso.client.get(f"{url.path}?{url.query}")
    assert (
        await sso.client.get(await sso.consent(started.headers["location"], "kim-2"))
    ).is_success
    listed = (await sso.client.get("/auth/identities", headers=headers)).json()["identities"]
    assert len(listed) == 2
    answers = await asyncio.gather(
        *(sso.client.delete(f"/auth/identities/{i['id']}", headers=headers) for i in listed)
    )
    assert sorted(answer.status_code for answer in answers) == [204, 409], [
        answer.text for answer in answers
    ]
    left = (await sso.client.get("/auth/identities", headers=headers)).json()["identities"]
    assert len(left) == 1
