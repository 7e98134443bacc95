"""Attacks on accounts and their secrets, on SQLite and on PostgreSQL (issue 19).

- every attempt limiter keys on the canonical identity the account lookup uses, so no
  spelling of an address gets a fresh counter (finding 2);
- every route that checks a secret is attempt-limited, the current password at
  ``POST /auth/password`` included (finding 3);
- a password change spends the account's outstanding reset tokens (finding 7);
- ``POST /auth/register`` can answer alike for new and taken addresses, and does by
  default in the production profile (finding 9);
- an address is kept as typed: the case-folded, NFKC form is only the lookup key, and a
  mailbox that folding would turn into another one is refused, never rewritten (finding 10).
"""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from rainmaker.patterns.auth_jwt.errors import InvalidEmailError
from rainmaker.testing.contracts.auth import fullwidth
from tests.patterns.auth_jwt.conftest import (
    PASSWORD,
    AuthApp,
    MakeApp,
    assert_problem,
    bearer,
    new_email,
)
from tests.patterns.auth_jwt.test_flows import token_from

NEW_PASSWORD = "an entirely new passphrase"
TIGHT = {"attempts": 3, "window": 900}


def spellings(email: str) -> list[str]:
    """Ways to write ``email`` that the account lookup treats as the same account."""
    local, _, domain = email.partition("@")
    return [
        email,
        email.upper(),
        f"  {email}\t",
        fullwidth(local[0]) + email[1:],  # the bypass of the report: one fullwidth letter
        f"{fullwidth(local)}@{domain.upper()}",
    ]


async def login(app: AuthApp, email: str, password: str) -> httpx.Response:
    return await app.client.post("/auth/login", json={"email": email, "password": password})


# -- finding 2: one counter per account, however the address is written ------------------------


async def test_login_limit_counts_every_spelling_of_an_address_as_one(make_app: MakeApp) -> None:
    app = await make_app(rate_limits={"login_per_account": TIGHT})
    email = await app.register()
    for _ in range(3):
        assert_problem(await login(app, email, "not the password at all"), 401)
    for variant in spellings(email):
        answer = await login(app, variant, PASSWORD)
        assert_problem(answer, 429, "rate_limited")
        assert "access_token" not in answer.text, variant


async def test_reset_limit_counts_every_spelling_of_an_address_as_one(make_app: MakeApp) -> None:
    app = await make_app(rate_limits={"reset_per_account": {"attempts": 1, "window": 3600}})
    email = await app.register()
    first = await app.client.post("/auth/password-reset", json={"email": email})
    assert first.status_code == 202
    for variant in spellings(email)[1:]:
        answer = await app.client.post("/auth/password-reset", json={"email": variant})
        assert_problem(answer, 429, "rate_limited")


# -- finding 3: every route that checks a secret is limited ------------------------------------


async def test_guessing_the_current_password_is_limited(auth_app: AuthApp) -> None:
    """Default limits: a stolen access token cannot brute-force the current password."""
    email = await auth_app.register()
    tokens = await auth_app.login(email)
    headers = bearer(tokens["access_token"])
    statuses = []
    for guess in range(25):
        answer = await auth_app.client.post(
            "/auth/password",
            json={"current_password": f"guess number {guess}", "new_password": NEW_PASSWORD},
            headers=headers,
        )
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) > 0
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}, statuses
    # The right password does not get through while the limit holds...
    answer = await auth_app.client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert_problem(answer, 429, "rate_limited")
    # ...so the password and the owner's sessions are untouched.
    assert (await auth_app.client.get("/auth/me", headers=headers)).status_code == 200
    await auth_app.login(email, PASSWORD)


async def test_password_change_limit_is_per_account(make_app: MakeApp) -> None:
    app = await make_app(rate_limits={"password_change_per_account": TIGHT})
    tokens = [await app.login(await app.register()) for _ in range(2)]
    for _ in range(3):
        answer = await app.client.post(
            "/auth/password",
            json={"current_password": "wrong wrong wrong", "new_password": NEW_PASSWORD},
            headers=bearer(tokens[0]["access_token"]),
        )
        assert_problem(answer, 401)
    answer = await app.client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(tokens[1]["access_token"]),
    )
    assert answer.status_code == 200, answer.text  # another account has its own counter


SECRET_ROUTES: list[tuple[str, dict[str, Any], str]] = [
    ("/auth/login", {"password": "a wrong password"}, "login_per_account"),
    ("/auth/password", {"current_password": "a wrong one", "new_password": NEW_PASSWORD}, ""),
    ("/auth/password-reset/confirm", {"token": "C" * 43, "new_password": NEW_PASSWORD}, ""),
    ("/auth/verify", {"token": "D" * 43}, ""),
]


@pytest.mark.parametrize(
    ("path", "body", "limit"), SECRET_ROUTES, ids=[r[0] for r in SECRET_ROUTES]
)
async def test_every_route_that_checks_a_secret_is_limited(
    auth_app: AuthApp, path: str, body: dict[str, Any], limit: str
) -> None:
    email = await auth_app.register()
    tokens = await auth_app.login(email)
    payload = {**body, "email": email} if path == "/auth/login" else body
    headers = bearer(tokens["access_token"])
    for _ in range(60):
        answer = await auth_app.client.post(path, json=payload, headers=headers)
        if answer.status_code == 429:
            assert_problem(answer, 429, "rate_limited")
            return
        assert answer.status_code in (401, 422), answer.text
    pytest.fail(f"{path}: 60 wrong secrets in a row and no 429")


# -- finding 7: a credential change spends outstanding one-time tokens -------------------------


async def test_a_password_change_spends_pending_reset_tokens(auth_app: AuthApp) -> None:
    email = await auth_app.register()
    await auth_app.auth.drain()
    await auth_app.client.post("/auth/password-reset", json={"email": email})
    await auth_app.auth.drain()
    reset_token = token_from(auth_app.mails()[-1].text)

    tokens = await auth_app.login(email)
    changed = await auth_app.client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert changed.status_code == 200, changed.text

    answer = await auth_app.client.post(
        "/auth/password-reset/confirm",
        json={"token": reset_token, "new_password": "the attacker's passphrase"},
    )
    assert_problem(answer, 422, "invalid_one_time_token")
    await auth_app.login(email, NEW_PASSWORD)


async def test_a_reset_spends_the_other_pending_tokens_and_disable_spends_them_all(
    auth_app: AuthApp,
) -> None:
    email = await auth_app.register()
    user = await auth_app.auth.get_user_by_email(email)
    assert user is not None
    await auth_app.client.post("/auth/password-reset", json={"email": email})
    await auth_app.auth.drain()
    reset_token = token_from(auth_app.mails()[-1].text)
    await auth_app.auth.disable_user(user.id)
    await auth_app.auth.enable_user(user.id)
    answer = await auth_app.client.post(
        "/auth/password-reset/confirm",
        json={"token": reset_token, "new_password": NEW_PASSWORD},
    )
    assert_problem(answer, 422, "invalid_one_time_token")


# -- finding 9: a uniform answer to registration -----------------------------------------------


async def test_uniform_registration_answers_taken_and_new_addresses_alike(
    make_app: MakeApp,
) -> None:
    app = await make_app(uniform_register_answer=True)
    taken = new_email()
    await app.auth.create_user(taken, PASSWORD)
    fresh = new_email()
    answers = [
        await app.client.post("/auth/register", json={"email": email, "password": PASSWORD})
        for email in (fresh, taken.upper())
    ]
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    assert set(answers[0].headers) == set(answers[1].headers)
    assert taken not in answers[1].text and fresh not in answers[0].text

    await app.auth.drain()
    by_recipient = {mail.recipients: mail for mail in app.mails()}
    assert "Confirm your email" in by_recipient[(fresh,)].subject
    exists = by_recipient[(taken,)]  # the owner learns someone tried their address
    assert "already" in exists.subject.lower() or "already" in (exists.text or "").lower()
    assert "password" in (exists.text or "").lower()
    # One account per address still; the new one can log in.
    await app.login(fresh)
    assert_problem(await login(app, taken, "not the password at all"), 401)


async def test_uniform_registration_still_refuses_bad_input(make_app: MakeApp) -> None:
    """Answers that depend only on the request (a weak password) are no oracle: still 422."""
    app = await make_app(uniform_register_answer=True)
    taken = new_email()
    await app.auth.create_user(taken, PASSWORD)
    for email in (taken, new_email()):
        answer = await app.client.post("/auth/register", json={"email": email, "password": "a"})
        assert_problem(answer, 422, "password_rejected")


async def test_the_production_profile_answers_registration_uniformly(make_app: MakeApp) -> None:
    app = await make_app(profile="production")
    taken = new_email()
    await app.auth.create_user(taken, PASSWORD)
    answer = await app.client.post("/auth/register", json={"email": taken, "password": PASSWORD})
    assert answer.status_code == 202, answer.text


async def test_the_development_profile_keeps_the_conflict(make_app: MakeApp) -> None:
    app = await make_app()
    taken = await app.register()
    answer = await app.client.post("/auth/register", json={"email": taken, "password": PASSWORD})
    assert_problem(answer, 409, "email_taken")
    explicit = await make_app(profile="production", uniform_register_answer=False)
    taken = await explicit.register()
    answer = await explicit.client.post(
        "/auth/register", json={"email": taken, "password": PASSWORD}
    )
    assert_problem(answer, 409, "email_taken")


# -- finding 10: the address as typed, the canonical form as the key ---------------------------


async def test_an_address_is_kept_as_typed_and_found_canonically(auth_app: AuthApp) -> None:
    typed = f"Ada.Lovelace-{new_email()[5:15]}@Example.COM"
    answer = await auth_app.client.post(
        "/auth/register", json={"email": f"  {typed} ", "password": PASSWORD}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["email"] == typed
    await auth_app.auth.drain()
    [mail] = auth_app.mails()
    assert mail.recipients == (typed,)
    for variant in (typed.lower(), typed.upper(), fullwidth(typed)):
        found = await auth_app.auth.get_user_by_email(variant)
        assert found is not None and found.email == typed
        await auth_app.login(variant)
        assert_problem(
            await auth_app.client.post(
                "/auth/register", json={"email": variant, "password": PASSWORD}
            ),
            409,
            "email_taken",
        )


@pytest.mark.parametrize("local", ["straße", "İstanbul", "ﬁnance"])
async def test_a_mailbox_is_never_rewritten_into_another(auth_app: AuthApp, local: str) -> None:
    """``straße@`` must not become ``strasse@``: folding is for comparing, not for storing."""
    typed = f"{local}-{new_email()[5:15]}@example.com"
    answer = await auth_app.client.post(
        "/auth/register", json={"email": typed, "password": PASSWORD}
    )
    if answer.status_code == 201:
        # Accepted only as the very mailbox typed (NFKC compatibility forms aside).
        assert answer.json()["email"] == unicodedata.normalize("NFKC", typed), answer.text
    else:
        body = assert_problem(answer, 422, "invalid_email")
        assert local in body["detail"]
    await auth_app.auth.drain()
    for mail in auth_app.mails():
        assert all(r.casefold() == typed.casefold() for r in mail.recipients), mail.recipients


async def test_straße_is_refused_not_stored_as_strasse(auth_app: AuthApp) -> None:
    typed = f"straße-{new_email()[5:15]}@example.com"
    with pytest.raises(InvalidEmailError, match="straße"):
        await auth_app.auth.create_user(typed, PASSWORD)
    folded = typed.replace("ß", "ss")
    assert await auth_app.auth.get_user_by_email(folded) is None
    # ``strasse@`` is a mailbox of its own and registers normally.
    assert (await auth_app.auth.create_user(folded, PASSWORD)).email == folded
