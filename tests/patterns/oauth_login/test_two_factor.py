"""A provider sign-in is a first factor, never the whole sign-in: through the real OpenID
Connect provider, an account with TOTP gets auth-jwt's challenge (on the callback and on
the one-time code exchange), a role that requires 2FA sends the user to enrol, the tokens'
``amr`` records ``oidc`` then ``otp``, and an organization that requires two-factor
authentication accepts the completed session."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pyotp
import pytest

from tests.patterns.auth_jwt.conftest import auth_settings
from tests.patterns.oauth_login.conftest import FRONT_END, MakeApp, SsoApp
from tests.patterns.oauth_login.oidc_server import OidcProvider
from tests.patterns.oauth_login.test_flow import assert_problem

# The provider (oidc-provider-mock) calls a deprecated Authlib server API on its own
# threads; that is its code, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

TWO_FACTOR = {"enabled": True, "encryption_keys": ["k" * 40]}
ORGS = {
    "orgs": {"use": "organizations"},
    # organizations mails its invitations.
    "mail": {"use": "email-console", "default_sender": "no-reply@example.com", "outbox": "out"},
}


def code(secret: str, offset: int = 0) -> str:
    """The TOTP code of the step ``offset`` steps from now (the window accepts +-1)."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // totp.interval) + offset)


def amr(access_token: str) -> list[str]:
    """The token's ``amr`` in order (the signature is the app's business, checked by it)."""
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return list(claims.get("amr") or [])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def two_factor_app(make_app: MakeApp, **two_factor: Any) -> SsoApp:
    settings = auth_settings(two_factor={**TWO_FACTOR, **two_factor})
    return await make_app(extra={"auth": settings, **ORGS})


async def enrol(sso: SsoApp, access_token: str) -> str:
    """Turn TOTP on for the token's user; the secret (its current step is spent)."""
    started = await sso.client.post("/auth/2fa/enrol", headers=bearer(access_token))
    assert started.status_code == 201, started.text
    secret: str = started.json()["secret"]
    confirmed = await sso.client.post(
        "/auth/2fa/confirm", json={"code": code(secret)}, headers=bearer(access_token)
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret


async def test_an_enrolled_user_signing_in_through_the_provider_is_challenged(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await two_factor_app(make_app)
    provider.set_user("olga", email="olga@example.com", email_verified=True)
    first = await sso.sign_in("olga")
    assert first.status_code == 200, first.text
    assert amr(first.json()["access_token"]) == ["oidc"]
    secret = await enrol(sso, first.json()["access_token"])

    # The callback answers POST /auth/login's challenge, never tokens.
    answer = await sso.sign_in("olga")
    assert answer.status_code == 200, answer.text
    challenge = answer.json()
    assert challenge["two_factor_required"] is True
    assert challenge["methods"] == ["totp", "recovery_code"]
    assert "access_token" not in challenge and "refresh_token" not in challenge
    done = await sso.client.post(
        "/auth/login/2fa",
        json={"challenge_token": challenge["challenge_token"], "code": code(secret, 1)},
    )
    assert done.status_code == 200, done.text
    pair = done.json()
    assert amr(pair["access_token"]) == ["oidc", "otp"]
    identity = await sso.auth.verify_token(pair["access_token"])
    assert identity.amr == {"oidc", "otp"}
    # The refreshed session keeps saying how it was proven.
    refreshed = await sso.client.post(
        "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert amr(refreshed.json()["access_token"]) == ["oidc", "otp"]
    # The challenge worked for one completed sign-in.
    assert_problem(
        await sso.client.post(
            "/auth/login/2fa",
            json={"challenge_token": challenge["challenge_token"], "code": code(secret, -1)},
        ),
        401,
        "invalid_token",
    )


async def test_the_one_time_code_exchange_answers_the_challenge(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await two_factor_app(make_app)
    provider.set_user("pia", email="pia@example.com", email_verified=True)
    first = (await sso.sign_in("pia")).json()
    started = await sso.client.post("/auth/2fa/enrol", headers=bearer(first["access_token"]))
    secret = started.json()["secret"]
    confirmed = await sso.client.post(
        "/auth/2fa/confirm", json={"code": code(secret)}, headers=bearer(first["access_token"])
    )
    recovery = confirmed.json()["recovery_codes"][0]

    redirect = await sso.sign_in("pia", next=f"{FRONT_END}/welcome")
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    assert "challenge_token" not in location and "access_token" not in location
    one_time = parse_qs(urlsplit(location).query)["oauth_code"][0]
    exchanged = await sso.client.post("/auth/oauth/exchange", json={"code": one_time})
    assert exchanged.status_code == 200, exchanged.text
    assert exchanged.headers["cache-control"] == "no-store"
    challenge = exchanged.json()
    assert challenge["two_factor_required"] is True and "access_token" not in challenge
    done = await sso.client.post(
        "/auth/login/2fa",
        json={"challenge_token": challenge["challenge_token"], "recovery_code": recovery},
    )
    assert done.status_code == 200, done.text
    assert amr(done.json()["access_token"]) == ["oidc", "otp"]
    # A wrong code (never a code: not all digits) is auth-jwt's problem, as after a password.
    redirect = await sso.sign_in("pia", next=f"{FRONT_END}/")
    one_time = parse_qs(urlsplit(redirect.headers["location"]).query)["oauth_code"][0]
    challenge = (await sso.client.post("/auth/oauth/exchange", json={"code": one_time})).json()
    assert_problem(
        await sso.client.post(
            "/auth/login/2fa",
            json={"challenge_token": challenge["challenge_token"], "code": "12345x"},
        ),
        401,
        "invalid_two_factor_code",
    )


async def test_a_required_role_without_two_factor_must_enrol_first(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    # Every new account gets the role that requires 2FA, so the provider's new user too.
    settings = auth_settings(
        two_factor={**TWO_FACTOR, "required_roles": ["staff"]}, default_roles=["staff"]
    )
    sso = await make_app(extra={"auth": settings})
    provider.set_user("quinn", email="quinn@example.com", email_verified=True)
    answer = await sso.sign_in("quinn")
    assert answer.status_code == 200, answer.text
    challenge = answer.json()
    assert challenge["two_factor_enrolment_required"] is True
    assert "access_token" not in challenge
    token = challenge["challenge_token"]
    started = await sso.client.post("/auth/2fa/enrol", json={"challenge_token": token})
    assert started.status_code == 201, started.text
    secret = started.json()["secret"]
    confirmed = await sso.client.post(
        "/auth/2fa/confirm", json={"challenge_token": token, "code": code(secret)}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert amr(confirmed.json()["access_token"]) == ["oidc", "otp"]
    # From now on the provider sign-in asks for the code.
    assert (await sso.sign_in("quinn")).json()["two_factor_required"] is True


async def test_an_org_requiring_two_factor_accepts_the_completed_provider_session(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await two_factor_app(make_app)
    provider.set_user("rosa", email="rosa@example.com", email_verified=True)
    provider_only = (await sso.sign_in("rosa")).json()["access_token"]
    created = await sso.client.post(
        "/orgs", json={"name": "Acme", "slug": "acme-sso"}, headers=bearer(provider_only)
    )
    assert created.status_code == 201, created.text
    path = f"/orgs/{created.json()['id']}"
    # The provider alone is one factor: not enough to require two of the organization.
    assert_problem(
        await sso.client.patch(
            path, json={"require_two_factor": True}, headers=bearer(provider_only)
        ),
        403,
        "org_two_factor_required",
    )
    secret = await enrol(sso, provider_only)
    challenge = (await sso.sign_in("rosa")).json()
    done = await sso.client.post(
        "/auth/login/2fa",
        json={"challenge_token": challenge["challenge_token"], "code": code(secret, 1)},
    )
    assert done.status_code == 200, done.text
    completed = done.json()["access_token"]
    switched = await sso.client.patch(
        path, json={"require_two_factor": True}, headers=bearer(completed)
    )
    assert switched.status_code == 200, switched.text
    assert (await sso.client.get(path, headers=bearer(completed))).status_code == 200
    # The provider-only session, and one issued with no policy at all, are refused.
    assert_problem(
        await sso.client.get(path, headers=bearer(provider_only)), 403, "org_two_factor_required"
    )
    user = await sso.auth.get_user_by_email("rosa@example.com")
    assert user is not None
    unpoliced = await sso.auth.issue_tokens(user)
    assert amr(unpoliced.access_token) == []
    assert_problem(
        await sso.client.get(path, headers=bearer(unpoliced.access_token)),
        403,
        "org_two_factor_required",
    )


async def test_the_openapi_declares_every_shape_of_a_sign_in(make_app: MakeApp) -> None:
    sso = await two_factor_app(make_app)
    spec = (await sso.client.get("/openapi.json")).json()
    for path, method in (
        ("/auth/oauth/exchange", "post"),
        ("/auth/oauth/{provider}/callback", "get"),
    ):
        answer = spec["paths"][path][method]["responses"]["200"]
        schema = answer["content"]["application/json"]["schema"]
        refs = schema.get("anyOf", schema.get("oneOf", []))
        names = {ref["$ref"].rsplit("/", 1)[1] for ref in refs}
        assert names == {"SignInTokens", "SignInSecondFactorRequired", "SignInEnrolmentRequired"}
