"""``Auth.sign_in``: the sign-in policy after a first factor another pattern checked, on
SQLite and PostgreSQL. The same policy as a password login (challenge, enrolment, a
disabled account refused), the first factor recorded in ``amr``; ``issue_tokens`` keeps
meaning "no policy"."""

from __future__ import annotations

import dataclasses

import pytest

from rainmaker import NotFoundError
from rainmaker.capabilities.auth import Auth, SignInChallenge, TokenPair
from rainmaker.patterns.auth_jwt.errors import AccountDisabledError
from tests.patterns.auth_jwt.conftest import PASSWORD, MakeApp, new_email
from tests.patterns.auth_jwt.test_two_factor import TWO_FACTOR, code, enrolled


async def test_without_a_second_factor_the_tokens_record_the_method(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    auth = app.app.services.require(Auth)
    user = await auth.create_user(new_email(), None, verified=True)
    answer = await auth.sign_in(user, method="hwk")
    assert isinstance(answer, TokenPair)
    assert app.auth.codec.decode(answer.access_token, "access")["amr"] == ["hwk"]
    assert (await auth.verify_token(answer.access_token)).amr == {"hwk"}


async def test_an_enrolled_account_is_challenged_and_the_completion_keeps_the_method(
    make_app: MakeApp,
) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email, secret, _ = await enrolled(app)
    user = await app.auth.get_user_by_email(email)
    assert user is not None
    answer = await app.auth.sign_in(user, method="hwk")
    assert isinstance(answer, SignInChallenge) and answer.step == "verify"
    # The body is the one POST /auth/login answers.
    body = answer.as_dict()
    assert body["two_factor_required"] is True and "access_token" not in body
    done = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": answer.token, "code": code(secret, 1)}
    )
    assert done.status_code == 200, done.text
    assert app.auth.codec.decode(done.json()["access_token"], "access")["amr"] == ["hwk", "otp"]
    # issue_tokens asks for nothing: for callers that mean "no policy".
    pair = await app.auth.issue_tokens(user)
    assert app.auth.codec.decode(pair.access_token, "access").get("amr", []) == []


async def test_a_required_role_is_sent_to_enrol(make_app: MakeApp) -> None:
    app = await make_app(two_factor={**TWO_FACTOR, "required_roles": ["admin"]})
    user = await app.auth.create_user(new_email(), None, role=["admin"], verified=True)
    answer = await app.auth.sign_in(user, method="oidc")
    assert isinstance(answer, SignInChallenge) and answer.step == "enrol"
    assert answer.as_dict()["two_factor_enrolment_required"] is True


async def test_a_challenge_from_before_sign_in_completes_as_a_password_login(
    make_app: MakeApp,
) -> None:
    # Challenge tokens issued by the release before this one carry no first factor: they
    # came from POST /auth/login, so the completed session says ["pwd", "otp"].
    app = await make_app(two_factor=TWO_FACTOR)
    email, secret, _ = await enrolled(app)
    record = await app.auth.users.by_email(email)
    assert record is not None
    old = app.auth.codec.issue(
        "2fa", record.id, 300, claims={"step": "verify", "tv": record.token_version}
    )
    done = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": old.token, "code": code(secret, 1)}
    )
    assert done.status_code == 200, done.text
    assert app.auth.codec.decode(done.json()["access_token"], "access")["amr"] == ["pwd", "otp"]


async def test_disabled_and_unknown_accounts_are_refused(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    user = await app.auth.create_user(new_email(), PASSWORD, verified=True)
    await app.auth.disable_user(user.id)
    with pytest.raises(AccountDisabledError):
        await app.auth.sign_in(user, method="oidc")
    await app.auth.enable_user(user.id)
    assert isinstance(await app.auth.sign_in(user, method="oidc"), TokenPair)
    gone = dataclasses.replace(user, id="no-such-user")
    with pytest.raises(NotFoundError):
        await app.auth.sign_in(gone, method="oidc")
