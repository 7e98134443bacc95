"""Every bad input of a sign-in answers problem+json with a stable code, against the real
provider: state, replayed codes, ID tokens signed by another key, for another audience,
expired, with another nonce or issuer, foreign `next`, unknown and unreachable providers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from rainmaker import Status
from tests.patterns.oauth_login.conftest import CLIENT_ID, MakeApp, SsoApp
from tests.patterns.oauth_login.oidc_server import OidcProvider, expired_claims

# The provider (oidc-provider-mock) calls a deprecated Authlib server API on its own
# threads; that is its code, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


def assert_problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


async def callback_url(sso: SsoApp, sub: str = "zed") -> str:
    """A started flow the user approved: the callback URL, not yet visited."""
    started = await sso.authorize()
    return await sso.consent(started.headers["location"], sub)


def with_params(url: str, **params: str | None) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    for key, value in params.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return f"{parts.path}?{urlencode(query)}"


async def test_a_wrong_or_missing_state_is_refused(make_app: MakeApp) -> None:
    sso = await make_app()
    url = await callback_url(sso)
    assert_problem(
        await sso.client.get(with_params(url, state="forged")), 400, "oauth_state_invalid"
    )
    assert_problem(await sso.client.get(with_params(url, state=None)), 400, "oauth_state_invalid")
    assert_problem(await sso.client.get("/auth/oauth/corp/callback"), 400, "oauth_state_invalid")


async def test_a_state_from_another_browser_is_refused(make_app: MakeApp) -> None:
    sso = await make_app()
    url = await callback_url(sso)
    sso.client.cookies.clear()  # the victim's browser never started this flow
    assert_problem(await sso.client.get(url), 400, "oauth_state_invalid")


async def test_a_replayed_callback_and_a_replayed_code_are_refused(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("zed", email="zed@example.com", email_verified=True)
    url = await callback_url(sso)
    assert (await sso.client.get(url)).status_code == 200
    # The same callback again: its state was spent.
    assert_problem(await sso.client.get(url), 400, "oauth_state_invalid")
    # The used code under a fresh, valid state: the provider refuses it.
    fresh = await callback_url(sso)
    code = parse_qs(urlsplit(url).query)["code"][0]
    body = assert_problem(
        await sso.client.get(with_params(fresh, code=code)), 400, "oauth_code_invalid"
    )
    assert "invalid_grant" in body["detail"]


async def test_the_provider_refusing_is_reported(make_app: MakeApp) -> None:
    sso = await make_app()
    url = await callback_url(sso)
    denied = with_params(url, code=None, error="access_denied")
    assert_problem(await sso.client.get(denied), 400, "oauth_provider_error")


async def test_an_id_token_signed_by_an_unpublished_key_is_refused(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("warmup", email="warmup@example.com", email_verified=True)
    assert (await sso.sign_in("warmup")).status_code == 200  # the JWKS is cached
    fetches = provider.jwks_fetches
    provider.sign_with_foreign_key()
    assert_problem(await sso.sign_in("zed"), 401, "oauth_id_token_signature")
    assert provider.jwks_fetches == fetches + 1  # an unknown kid: fetched once more, no more
    # A forged token under the provider's own kid fails its signature check too.
    provider.sign_with_foreign_key(kid=provider.own_kid())
    assert_problem(await sso.sign_in("zed"), 401, "oauth_id_token_signature")


async def test_an_id_token_for_another_audience_is_refused(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.tamper(aud="some-other-client")
    assert_problem(await sso.sign_in("zed"), 401, "oauth_id_token_audience")
    provider.tamper(aud=["some-other-client", "third"])
    assert_problem(await sso.sign_in("zed"), 401, "oauth_id_token_audience")


async def test_an_expired_id_token_is_refused(make_app: MakeApp, provider: OidcProvider) -> None:
    sso = await make_app()
    provider.tamper(**expired_claims())
    assert_problem(await sso.sign_in("zed"), 401, "oauth_id_token_expired")


async def test_an_id_token_with_another_nonce_or_issuer_is_refused(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.tamper(nonce="from-another-sign-in")
    assert_problem(await sso.sign_in("zed"), 401, "oauth_id_token_nonce")
    provider.tamper(iss="https://evil.example.com", aud=CLIENT_ID)
    assert_problem(await sso.sign_in("zed"), 401, "oauth_id_token_issuer")


async def test_a_next_to_a_foreign_origin_is_refused(make_app: MakeApp) -> None:
    sso = await make_app()
    for target in (
        "https://evil.example.com/",
        "//evil.example.com/path",
        "javascript:alert(1)",
        "/\\evil.example.com",
        "http://front.example.com.evil.example.com/",
    ):
        assert_problem(await sso.authorize(next=target), 400, "oauth_next_forbidden")
    assert (await sso.authorize(next="/dashboard")).status_code == 302
    assert (await sso.authorize(next="http://front.example.com/x")).status_code == 302


async def test_a_provider_not_configured_is_a_404(make_app: MakeApp) -> None:
    sso = await make_app()
    assert_problem(await sso.authorize("nope"), 404, "oauth_provider_unknown")
    answer = await sso.client.get("/auth/oauth/nope/callback?state=x&code=y")
    assert_problem(answer, 404, "oauth_provider_unknown")


async def test_an_unreachable_provider_is_a_503_and_degrades_health(
    make_app: MakeApp, closed_port: int
) -> None:
    down = {"issuer": f"http://127.0.0.1:{closed_port}", "client_id": CLIENT_ID}
    sso = await make_app(sso={"clients": {"down": down}})  # the app still starts
    assert_problem(await sso.authorize("down"), 503, "oauth_provider_unavailable")
    report = await sso.app.health()
    (mine,) = [item for item in report.instances if item.instance == "sso"]
    assert mine.status is Status.DEGRADED
    assert "down" in mine.details["unreachable"]


async def test_a_provider_that_goes_down_mid_sign_in_is_a_503(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    url = await callback_url(sso)
    provider.stop()
    assert_problem(await sso.client.get(url), 503, "oauth_provider_unavailable")
    report = await sso.app.health()
    (mine,) = [item for item in report.instances if item.instance == "sso"]
    assert mine.status is Status.DEGRADED


async def test_a_provider_without_an_email_cannot_make_an_account(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    sso = await make_app()
    provider.set_user("anon", name="No Email")
    assert_problem(await sso.sign_in("anon"), 422, "oauth_email_missing")


async def test_a_bad_exchange_code_and_body_are_problems(make_app: MakeApp) -> None:
    sso = await make_app()
    answer = await sso.client.post("/auth/oauth/exchange", json={"code": "made-up"})
    assert_problem(answer, 401, "oauth_exchange_code_invalid")
    answer = await sso.client.post("/auth/oauth/exchange", json={"kode": "x"})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_identity_routes_need_a_signed_in_user(make_app: MakeApp) -> None:
    sso = await make_app()
    assert_problem(await sso.client.get("/auth/identities"), 401, "credentials_missing")
    assert_problem(await sso.client.post("/auth/oauth/corp/link"), 401, "credentials_missing")


async def test_wrong_client_credentials_are_a_503_not_the_users_fault(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    # This provider authenticates confidential clients only: without the secret, every
    # exchange is refused with invalid_client — a configuration error of the app.
    public = {"issuer": provider.url, "client_id": CLIENT_ID, "client_secret": ""}
    sso = await make_app(sso={"clients": {"corp": public}})
    body = assert_problem(await sso.sign_in("zed"), 503, "oauth_provider_unavailable")
    assert "token exchange" in body["detail"]
    report = await sso.app.health()
    (mine,) = [item for item in report.instances if item.instance == "sso"]
    assert mine.status is Status.DEGRADED


async def test_an_unverified_address_makes_no_account_unless_allowed(
    make_app: MakeApp, provider: OidcProvider
) -> None:
    provider.set_user("unv", email="unv@example.com", email_verified=False)
    strict = await make_app()
    assert_problem(await strict.sign_in("unv"), 403, "oauth_email_unverified")
    assert await strict.auth.get_user_by_email("unv@example.com") is None
    lenient = await make_app(sso={"allow_unverified_email": True})
    answer = await lenient.sign_in("unv")
    assert answer.status_code == 200, answer.text
    user = await lenient.auth.get_user_by_email("unv@example.com")
    assert user is not None and user.verified is False


async def test_a_disabled_account_cannot_sign_in(make_app: MakeApp, provider: OidcProvider) -> None:
    sso = await make_app()
    provider.set_user("dis", email="dis@example.com", email_verified=True)
    assert (await sso.sign_in("dis")).status_code == 200
    user = await sso.auth.get_user_by_email("dis@example.com")
    assert user is not None
    await sso.auth.disable_user(user.id)
    assert_problem(await sso.sign_in("dis"), 403, "account_disabled")
