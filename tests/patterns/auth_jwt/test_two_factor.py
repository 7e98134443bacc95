"""Two-factor authentication (TOTP and recovery codes) through HTTP, on SQLite and
PostgreSQL: enrolment and its confirmation, the login challenge, replay, the limiter,
recovery codes, disable, required roles, and secrets at rest."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from rainmaker.patterns.auth_jwt.settings import AuthSettings
from rainmaker.patterns.auth_jwt.tables import recovery_codes, two_factor
from tests.patterns.auth_jwt.conftest import (
    PASSWORD,
    SECRET,
    AuthApp,
    MakeApp,
    assert_problem,
    bearer,
    new_email,
)

TWO_FACTOR = {"enabled": True, "encryption_keys": ["k" * 40]}


def code(secret: str, offset: int = 0) -> str:
    """The TOTP code of the step ``offset`` steps from now (the window accepts +-1)."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // totp.interval) + offset)


async def enrolled(app: AuthApp, email: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """A registered user with confirmed 2FA: (email, secret, confirm answer); the answer's
    ``code_used`` is the code that confirmed it."""
    email = await app.register(email)
    tokens = await app.login(email)
    answer = await app.client.post("/auth/2fa/enrol", headers=bearer(tokens["access_token"]))
    assert answer.status_code == 201, answer.text
    secret = answer.json()["secret"]
    first = code(secret)
    confirm = await app.client.post(
        "/auth/2fa/confirm", json={"code": first}, headers=bearer(tokens["access_token"])
    )
    assert confirm.status_code == 200, confirm.text
    return email, secret, {**confirm.json(), "code_used": first}


async def challenge(app: AuthApp, email: str) -> str:
    answer = await app.login(email)
    assert answer["two_factor_required"] is True, answer
    assert "access_token" not in answer
    token: str = answer["challenge_token"]
    return token


async def test_enrol_confirm_and_log_in_with_a_code(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email = await app.register()
    tokens = await app.login(email)
    headers = bearer(tokens["access_token"])

    answer = await app.client.post("/auth/2fa/enrol", headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["confirmed"] is False
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert (await app.client.get("/auth/2fa", headers=headers)).json() == {
        "enabled": False,
        "pending": True,
        "recovery_codes_left": 0,
    }
    # Enrolled but not confirmed: login still answers tokens, no second factor yet.
    assert "access_token" in await app.login(email)

    wrong = await app.client.post("/auth/2fa/confirm", json={"code": "000000"}, headers=headers)
    if code(body["secret"]) != "000000":
        assert_problem(wrong, 401, "invalid_two_factor_code")
    answer = await app.client.post(
        "/auth/2fa/confirm", json={"code": code(body["secret"])}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    codes = answer.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "access_token" not in answer.json()

    token = await challenge(app, email)
    answer = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": token, "code": code(body["secret"], 1)}
    )
    assert answer.status_code == 200, answer.text
    pair = answer.json()
    claims = app.auth.codec.decode(pair["access_token"], "access")
    assert claims["amr"] == ["pwd", "otp"]
    me = await app.client.get("/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    # The session keeps its amr across a refresh.
    answer = await app.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert app.auth.codec.decode(answer.json()["access_token"], "access")["amr"] == ["pwd", "otp"]


async def test_a_code_works_once(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email, secret, confirmed = await enrolled(app)
    token = await challenge(app, email)
    # The confirmation spent its code: replaying it at login is refused.
    assert_problem(
        await app.client.post(
            "/auth/login/2fa", json={"challenge_token": token, "code": confirmed["code_used"]}
        ),
        401,
        "two_factor_code_reused",
    )
    next_code = code(secret, 1)
    answer = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": token, "code": next_code}
    )
    assert answer.status_code == 200, answer.text
    # The challenge is spent by the login it completed...
    assert_problem(
        await app.client.post(
            "/auth/login/2fa", json={"challenge_token": token, "code": code(secret, -1)}
        ),
        401,
        "invalid_token",
    )
    # ...and a new login's challenge cannot reuse the code either.
    assert_problem(
        await app.client.post(
            "/auth/login/2fa",
            json={"challenge_token": await challenge(app, email), "code": next_code},
        ),
        401,
        "two_factor_code_reused",
    )


async def test_recovery_codes_are_single_use(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email, _, confirmed = await enrolled(app)
    first = confirmed["recovery_codes"][0]
    token = await challenge(app, email)
    typed = first.upper().replace("-", " ")  # as people type it
    answer = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": token, "recovery_code": typed}
    )
    assert answer.status_code == 200, answer.text
    headers = bearer(answer.json()["access_token"])
    status = await app.client.get("/auth/2fa", headers=headers)
    assert status.json()["recovery_codes_left"] == 9
    token = await challenge(app, email)
    assert_problem(
        await app.client.post(
            "/auth/login/2fa", json={"challenge_token": token, "recovery_code": first}
        ),
        401,
        "two_factor_code_reused",
    )
    assert_problem(
        await app.client.post(
            "/auth/login/2fa",
            json={"challenge_token": token, "recovery_code": "aaaa-bbbb-cccc-dddd"},
        ),
        401,
        "invalid_two_factor_code",
    )


async def test_wrong_codes_are_counted_by_the_limiter(make_app: MakeApp) -> None:
    app = await make_app(
        two_factor=TWO_FACTOR,
        rate_limits={"two_factor_per_account": {"attempts": 3, "window": 3600}},
    )
    email, secret, _ = await enrolled(app)  # the confirmation is attempt 1
    token = await challenge(app, email)
    right = code(secret, 1)
    wrong = "111111" if right != "111111" else "222222"
    for _ in range(2):
        assert_problem(
            await app.client.post(
                "/auth/login/2fa", json={"challenge_token": token, "code": wrong}
            ),
            401,
            "invalid_two_factor_code",
        )
    refused = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": token, "code": right}
    )
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) >= 1


async def test_bad_input_answers_problems(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email, secret, confirmed = await enrolled(app)
    token = await challenge(app, email)
    both = {"challenge_token": token, "code": code(secret, 1), "recovery_code": "x"}
    assert_problem(await app.client.post("/auth/login/2fa", json=both), 422)
    assert_problem(await app.client.post("/auth/login/2fa", json={"challenge_token": token}), 422)
    assert_problem(
        await app.client.post(
            "/auth/login/2fa", json={"challenge_token": "not-a-token", "code": "123456"}
        ),
        401,
        "invalid_token",
    )
    # A challenge token is no access token, and an access token is no challenge.
    assert_problem(await app.client.get("/auth/me", headers=bearer(token)), 401, "invalid_token")
    # Already enabled: enrolling again is refused until disabled.
    pair = (
        await app.client.post(
            "/auth/login/2fa",
            json={"challenge_token": token, "recovery_code": confirmed["recovery_codes"][1]},
        )
    ).json()
    headers = bearer(pair["access_token"])
    assert_problem(
        await app.client.post("/auth/2fa/enrol", headers=headers),
        409,
        "two_factor_already_enabled",
    )
    assert_problem(
        await app.client.post(
            "/auth/login/2fa",
            json={"challenge_token": pair["access_token"], "code": "123456"},
        ),
        401,
        "invalid_token",
    )
    # Confirming without an enrolment, and enrolling without any credential.
    other = await app.register()
    other_headers = bearer((await app.login(other))["access_token"])
    assert_problem(
        await app.client.post("/auth/2fa/confirm", json={"code": "123456"}, headers=other_headers),
        409,
        "two_factor_not_enrolled",
    )
    assert_problem(await app.client.post("/auth/2fa/enrol"), 401, "invalid_token")


async def test_disable_needs_password_and_code(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email, secret, confirmed = await enrolled(app)
    token = await challenge(app, email)
    pair = (
        await app.client.post(
            "/auth/login/2fa",
            json={"challenge_token": token, "recovery_code": confirmed["recovery_codes"][0]},
        )
    ).json()
    headers = bearer(pair["access_token"])
    assert_problem(
        await app.client.post(
            "/auth/2fa/disable",
            json={"password": "not the password", "code": code(secret, 1)},
            headers=headers,
        ),
        401,
        "invalid_credentials",
    )
    answer = await app.client.post(
        "/auth/2fa/disable", json={"password": PASSWORD, "code": code(secret, 1)}, headers=headers
    )
    assert answer.status_code == 204, answer.text
    assert "access_token" in await app.login(email)


async def test_required_role_must_enrol_at_login(make_app: MakeApp) -> None:
    app = await make_app(two_factor={**TWO_FACTOR, "required_roles": ["admin"]})
    email = new_email()
    await app.auth.create_user(email, PASSWORD, role=["user", "admin"], verified=True)
    answer = await app.login(email)
    assert answer["two_factor_enrolment_required"] is True
    assert "access_token" not in answer
    token = answer["challenge_token"]
    # The enrolment challenge opens only enrolment, not the second-factor login.
    assert_problem(
        await app.client.post("/auth/login/2fa", json={"challenge_token": token, "code": "123456"}),
        401,
        "invalid_token",
    )
    enrolment = await app.client.post("/auth/2fa/enrol", json={"challenge_token": token})
    assert enrolment.status_code == 201, enrolment.text
    secret = enrolment.json()["secret"]
    answer = await app.client.post(
        "/auth/2fa/confirm", json={"challenge_token": token, "code": code(secret)}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["recovery_codes"]) == 10
    assert app.auth.codec.decode(body["access_token"], "access")["amr"] == ["pwd", "otp"]
    # The enrolment challenge completed its login: it opens nothing any more.
    assert_problem(
        await app.client.post("/auth/2fa/enrol", json={"challenge_token": token}),
        401,
        "invalid_token",
    )
    # From now on login asks for the code, and the role keeps 2FA from being disabled.
    assert (await app.login(email))["two_factor_required"] is True
    assert_problem(
        await app.client.post(
            "/auth/2fa/disable",
            json={"password": PASSWORD, "code": code(secret, 1)},
            headers=bearer(body["access_token"]),
        ),
        403,
        "two_factor_required",
    )
    # Users without the role are not asked.
    plain = await app.register()
    assert "access_token" in await app.login(plain)


async def test_secrets_at_rest(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email, secret, confirmed = await enrolled(app)
    user = await app.auth.get_user_by_email(email)
    assert user is not None
    async with app.auth.db.session() as session:
        row = (
            await session.execute(select(two_factor).where(two_factor.c.user_id == user.id))
        ).one()
        stored = [
            r.code_hash
            for r in await session.execute(
                select(recovery_codes.c.code_hash).where(recovery_codes.c.user_id == user.id)
            )
        ]
    assert secret not in row.secret_encrypted and row.confirmed_at is not None
    assert len(stored) == 10
    for plain in confirmed["recovery_codes"]:
        assert all(plain.replace("-", "") not in digest for digest in stored)


async def test_regenerated_recovery_codes_replace_the_old(make_app: MakeApp) -> None:
    app = await make_app(
        two_factor={**TWO_FACTOR, "valid_window": 2},
        rate_limits={"two_factor_per_account": {"attempts": 20, "window": 300}},
    )
    email, secret, confirmed = await enrolled(app)
    token = await challenge(app, email)
    pair = (
        await app.client.post(
            "/auth/login/2fa", json={"challenge_token": token, "code": code(secret, 1)}
        )
    ).json()
    headers = bearer(pair["access_token"])
    # A step older than the one used last is a replay too.
    assert_problem(
        await app.client.post(
            "/auth/2fa/recovery-codes", json={"code": code(secret, -1)}, headers=headers
        ),
        401,
        "two_factor_code_reused",
    )
    answer = await app.client.post(
        "/auth/2fa/recovery-codes", json={"code": code(secret, 2)}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    fresh = answer.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(confirmed["recovery_codes"])
    token = await challenge(app, email)
    assert_problem(
        await app.client.post(
            "/auth/login/2fa",
            json={"challenge_token": token, "recovery_code": confirmed["recovery_codes"][0]},
        ),
        401,
        "invalid_two_factor_code",
    )
    answer = await app.client.post(
        "/auth/login/2fa", json={"challenge_token": token, "recovery_code": fresh[0]}
    )
    assert answer.status_code == 200, answer.text


async def test_routes_absent_unless_enabled_and_openapi_is_honest(make_app: MakeApp) -> None:
    off = await make_app()
    assert (await off.client.post("/auth/2fa/enrol")).status_code == 404
    app = await make_app(two_factor=TWO_FACTOR)
    spec = (await app.client.get("/openapi.json")).json()
    assert "/auth/login/2fa" in spec["paths"] and "/auth/2fa/confirm" in spec["paths"]
    login = spec["paths"]["/auth/login"]["post"]["responses"]["200"]
    schema = login["content"]["application/json"]["schema"]
    names = {ref["$ref"].rsplit("/", 1)[1] for ref in schema.get("anyOf", schema.get("oneOf", []))}
    assert {"TokenAnswer", "SecondFactorChallenge", "EnrolmentChallenge"} <= names


def test_settings_need_a_key_and_enabled_for_roles() -> None:
    keys = [{"kid": "k1", "algorithm": "HS256", "secret": SECRET}]
    with pytest.raises(ValueError, match="encryption_keys"):
        AuthSettings.model_validate({"keys": keys, "two_factor": {"enabled": True}})
    with pytest.raises(ValueError, match="required_roles needs"):
        AuthSettings.model_validate({"secret": SECRET, "two_factor": {"required_roles": ["a"]}})
    with pytest.raises(ValueError, match="32"):
        AuthSettings.model_validate(
            {"secret": SECRET, "two_factor": {"enabled": True, "encryption_keys": ["short"]}}
        )
    # The secret shorthand is enough key material on its own.
    AuthSettings.model_validate({"secret": SECRET, "two_factor": {"enabled": True}})


async def test_a_password_change_voids_the_challenge(make_app: MakeApp) -> None:
    app = await make_app(two_factor=TWO_FACTOR)
    email, _, confirmed = await enrolled(app)
    token = await challenge(app, email)
    user = await app.auth.get_user_by_email(email)
    assert user is not None
    await app.auth.users.update(user.id, bump_version=True)  # what a reset does
    assert_problem(
        await app.client.post(
            "/auth/login/2fa",
            json={"challenge_token": token, "recovery_code": confirmed["recovery_codes"][0]},
        ),
        401,
        "invalid_token",
    )


async def test_rotated_encryption_keys_keep_secrets_readable(
    make_app: MakeApp, tmp_path: Any
) -> None:
    folder = tmp_path / "shared"
    old = {"enabled": True, "encryption_keys": ["a" * 40]}
    first = await make_app(root=folder, two_factor=old)
    email, secret, confirmed = await enrolled(first)
    rotated = {"enabled": True, "encryption_keys": ["b" * 40, "a" * 40]}
    second = await make_app(root=folder, two_factor=rotated)
    token = await challenge(second, email)
    answer = await second.client.post(
        "/auth/login/2fa", json={"challenge_token": token, "code": code(secret, 1)}
    )
    assert answer.status_code == 200, answer.text
    # Recovery codes hashed under the old key still work while it is configured.
    token = await challenge(second, email)
    answer = await second.client.post(
        "/auth/login/2fa",
        json={"challenge_token": token, "recovery_code": confirmed["recovery_codes"][0]},
    )
    assert answer.status_code == 200, answer.text
    # With the old key gone the secret cannot be read: a wrong code, never a 500.
    dropped = await make_app(
        root=folder, two_factor={"enabled": True, "encryption_keys": ["b" * 40]}
    )
    token = await challenge(dropped, email)
    assert_problem(
        await dropped.client.post(
            "/auth/login/2fa", json={"challenge_token": token, "code": code(secret, 1)}
        ),
        401,
        "invalid_two_factor_code",
    )
