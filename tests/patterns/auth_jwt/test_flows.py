"""Account flows through HTTP and the Python API, on SQLite and PostgreSQL.

No ``from __future__ import annotations``: the test pattern below declares its guards in
``Annotated`` parameters of closures, which FastAPI must evaluate at runtime.
"""

import re
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from sqlalchemy import select, text

from rainmaker import Module, Pattern, Settings
from rainmaker.capabilities.auth import Auth, Identity, User
from rainmaker.capabilities.database import Database
from rainmaker.http import auth_guards
from rainmaker.patterns.auth_jwt.errors import (
    AccountDisabledError,
    EmailTakenError,
    InvalidCredentialsError,
    PasswordRejectedError,
)
from rainmaker.patterns.auth_jwt.tables import users
from rainmaker.patterns.http.module import FastAPIModule
from tests.patterns.auth_jwt.conftest import (
    CHEAP_HASHING,
    PASSWORD,
    AuthApp,
    MakeApp,
    assert_problem,
    bearer,
    new_email,
)

TOKEN_IN_MAIL = re.compile(r"^([A-Za-z0-9_-]{40,})$", re.M)


def token_from(mail_text: str | None) -> str:
    assert mail_text is not None
    found = TOKEN_IN_MAIL.search(mail_text)
    assert found is not None, mail_text
    return found.group(1)


async def test_register_verify_login_me_refresh_logout(auth_app: AuthApp) -> None:
    client = auth_app.client
    email = "Ada.Lovelace@Example.COM"
    answer = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    user = answer.json()
    assert user["email"] == email  # kept as typed; compared case-insensitively (issue 19)
    assert user["roles"] == ["user"] and user["verified"] is False
    assert "password" not in answer.text and "argon2" not in answer.text

    await auth_app.auth.drain()
    [mail] = auth_app.mails()
    assert mail.recipients == (email,)
    assert "Confirm your email" in mail.subject
    answer = await client.post("/auth/verify", json={"token": token_from(mail.text)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["verified"] is True

    tokens = await auth_app.login("ADA.lovelace@example.com")
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user["id"]

    answer = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    rotated = answer.json()
    assert rotated["refresh_token"] != tokens["refresh_token"]

    answer = await client.post("/auth/logout", headers=bearer(rotated["access_token"]))
    assert answer.status_code == 204
    # Logged out: the session's refresh token and the access token itself are refused.
    assert_problem(
        await client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}),
        401,
        "invalid_token",
    )
    assert_problem(
        await client.get("/auth/me", headers=bearer(rotated["access_token"])), 401, "invalid_token"
    )


async def test_verification_token_is_single_use(auth_app: AuthApp) -> None:
    await auth_app.register()
    await auth_app.auth.drain()
    token = token_from(auth_app.mails()[0].text)
    ok = await auth_app.client.post("/auth/verify", json={"token": token})
    assert ok.status_code == 200
    again = await auth_app.client.post("/auth/verify", json={"token": token})
    assert_problem(again, 422, "invalid_one_time_token")


async def test_duplicate_registration_is_a_conflict(auth_app: AuthApp) -> None:
    email = await auth_app.register()
    answer = await auth_app.client.post(
        "/auth/register", json={"email": email.upper(), "password": PASSWORD}
    )
    assert_problem(answer, 409, "email_taken")


async def test_password_policy(auth_app: AuthApp) -> None:
    client = auth_app.client
    for password, words in [
        ("short", "at least 10"),
        ("password123", "commonly used"),
        ("Password123", "commonly used"),
    ]:
        answer = await client.post(
            "/auth/register", json={"email": new_email(), "password": password}
        )
        body = assert_problem(answer, 422, "password_rejected")
        assert words in body["detail"]
    email = new_email()
    answer = await client.post(
        "/auth/register", json={"email": email, "password": f"my {email.split('@')[0]} pass"}
    )
    assert "email" in assert_problem(answer, 422, "password_rejected")["detail"]


async def test_change_password_ends_other_sessions(auth_app: AuthApp) -> None:
    client = auth_app.client
    email = await auth_app.register()
    first = await auth_app.login(email)
    second = await auth_app.login(email)
    wrong = await client.post(
        "/auth/password",
        json={"current_password": "not it at all", "new_password": "a brand new secret"},
        headers=bearer(first["access_token"]),
    )
    assert_problem(wrong, 401, "invalid_credentials")
    answer = await client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new secret"},
        headers=bearer(first["access_token"]),
    )
    assert answer.status_code == 200, answer.text
    fresh = answer.json()
    # Other sessions are over; the new pair works; the old password does not.
    assert_problem(
        await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}),
        401,
    )
    assert (await client.get("/auth/me", headers=bearer(fresh["access_token"]))).status_code == 200
    assert_problem(
        await client.post("/auth/login", json={"email": email, "password": PASSWORD}), 401
    )
    await auth_app.login(email, "a brand new secret")


async def test_password_reset_flow(auth_app: AuthApp) -> None:
    client = auth_app.client
    email = await auth_app.register()
    session = await auth_app.login(email)
    answer = await client.post("/auth/password-reset", json={"email": email})
    assert answer.status_code == 202
    await auth_app.auth.drain()
    reset_mail = [m for m in auth_app.mails() if "Reset" in m.subject]
    assert len(reset_mail) == 1
    token = token_from(reset_mail[0].text)
    assert token in (reset_mail[0].html or "")

    confirm = {"token": token, "new_password": "reset to something new"}
    answer = await client.post("/auth/password-reset/confirm", json=confirm)
    assert answer.status_code == 204, answer.text
    assert_problem(await client.post("/auth/password-reset/confirm", json=confirm), 422)
    # The old session ended, the new password works and the address counts as verified.
    assert_problem(
        await client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]}), 401
    )
    assert_problem(await client.get("/auth/me", headers=bearer(session["access_token"])), 401)
    tokens = await auth_app.login(email, "reset to something new")
    me = await client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.json()["verified"] is True


async def test_reset_answers_the_same_for_unknown_emails(auth_app: AuthApp) -> None:
    client = auth_app.client
    known = await auth_app.register()
    await auth_app.auth.drain()
    before = len(auth_app.mails())
    a = await client.post("/auth/password-reset", json={"email": known})
    b = await client.post("/auth/password-reset", json={"email": new_email()})
    assert (a.status_code, a.json()) == (b.status_code, b.json())
    await auth_app.auth.drain()
    assert len(auth_app.mails()) == before + 1  # only the real account got a message


async def test_login_answers_the_same_for_unknown_emails(auth_app: AuthApp) -> None:
    client = auth_app.client
    known = await auth_app.register()
    wrong = await client.post("/auth/login", json={"email": known, "password": "wrong password!"})
    unknown = await client.post(
        "/auth/login", json={"email": new_email(), "password": "wrong password!"}
    )
    a, b = assert_problem(wrong, 401), assert_problem(unknown, 401)
    for key in ("code", "detail", "title", "type"):
        assert a[key] == b[key]


async def test_unknown_email_costs_a_hash(auth_app: AuthApp, monkeypatch: Any) -> None:
    # Timing is not asserted (no test asserts a duration); the work done is.
    calls: list[str] = []
    hasher = auth_app.auth.hasher
    real = hasher._verify

    def counting(stored: str, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(hasher, "_verify", counting)
    with pytest.raises(InvalidCredentialsError):
        await auth_app.auth.authenticate(new_email(), "whatever password")
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


async def test_login_is_rate_limited_per_account(make_app: MakeApp) -> None:
    app = await make_app(rate_limits={"login_per_account": {"attempts": 3, "window": 600}})
    email = await app.register()
    for _ in range(3):
        await app.client.post("/auth/login", json={"email": email, "password": "bad password"})
    answer = await app.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    body = assert_problem(answer, 429, "rate_limited")
    retry = int(answer.headers["retry-after"])
    assert 1 <= retry <= 600 and body["retry_after"] == retry
    # Unknown emails are limited alike (no enumeration through the limiter).
    ghost = new_email()
    for _ in range(3):
        await app.client.post("/auth/login", json={"email": ghost, "password": "bad password"})
    assert_problem(
        await app.client.post("/auth/login", json={"email": ghost, "password": "bad"}), 429
    )


async def test_login_is_rate_limited_per_address_through_the_cache(make_app: MakeApp) -> None:
    app = await make_app(
        cache=True, rate_limits={"login_per_address": {"attempts": 2, "window": 600}}
    )
    assert app.auth.limiter.backend == "cache"
    for _ in range(2):
        answer = await app.client.post(
            "/auth/login", json={"email": new_email(), "password": "bad password"}
        )
        assert answer.status_code == 401
    answer = await app.client.post(
        "/auth/login", json={"email": new_email(), "password": "bad password"}
    )
    assert_problem(answer, 429)
    assert "retry-after" in answer.headers


async def test_reset_is_rate_limited(make_app: MakeApp) -> None:
    app = await make_app(rate_limits={"reset_per_account": {"attempts": 1, "window": 3600}})
    email = await app.register()
    assert (await app.client.post("/auth/password-reset", json={"email": email})).status_code == 202
    assert_problem(await app.client.post("/auth/password-reset", json={"email": email}), 429)


async def test_create_user_joins_the_callers_transaction(auth_app: AuthApp) -> None:
    auth = auth_app.auth
    db = auth.db
    email = new_email()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.transaction() as session:
            user = await auth.create_user(email, PASSWORD)
            assert (await session.execute(select(users.c.id).where(users.c.id == user.id))).first()
            raise Boom
    assert await auth.get_user_by_email(email) is None

    async with db.transaction():
        user = await auth.create_user(email, PASSWORD, role=["admin", "user"], verified=True)
        # A duplicate inside the same transaction fails alone (savepoint), the rest commits.
        with pytest.raises(EmailTakenError):
            await auth.create_user(email, PASSWORD)
    stored = await auth.get_user(user.id)
    assert stored is not None and stored.roles == ("admin", "user") and stored.verified


async def test_verification_email_waits_for_commit(auth_app: AuthApp) -> None:
    auth = auth_app.auth

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with auth.db.transaction():
            user = await auth.create_user(new_email(), PASSWORD)
            await auth.request_verification(user.id)
            raise Boom
    await auth.drain()
    assert auth_app.mails() == []


async def test_python_api(auth_app: AuthApp) -> None:
    auth = auth_app.auth
    user = await auth.create_user(new_email(), PASSWORD, role="editor", scopes=["posts:write"])
    assert (await auth.authenticate(user.email.upper(), PASSWORD)).id == user.id
    with pytest.raises(InvalidCredentialsError):
        await auth.authenticate(user.email, "wrong password here")
    with pytest.raises(PasswordRejectedError):
        await auth.create_user(new_email(), "x" * 1_000_000)
    pair = await auth.issue_tokens(user)
    identity = await auth.verify_token(pair.access_token)
    assert identity.user_id == user.id
    assert identity.has_role("editor") and identity.has_scopes("posts:write")
    await auth.disable_user(user.id)
    with pytest.raises(AccountDisabledError):
        await auth.authenticate(user.email, PASSWORD)
    await auth.enable_user(user.id)
    assert (await auth.authenticate(user.email, PASSWORD)).id == user.id


async def test_rehash_when_parameters_change(make_app: MakeApp, tmp_path: Any) -> None:
    root = tmp_path / "shared"
    first = await make_app(root=root)
    email = await first.register()
    old_hash = (await first.auth.users.by_email(email)).password_hash  # type: ignore[union-attr]
    await first.app.stop()
    stronger = {**CHEAP_HASHING, "time_cost": 2}
    second = await make_app(root=root, hashing=stronger)
    await second.login(email)
    new_hash = (await second.auth.users.by_email(email)).password_hash  # type: ignore[union-attr]
    assert new_hash != old_hash and "t=2" in new_hash and "t=1" in old_hash
    await second.login(email)  # and the new hash verifies


async def test_key_rotation_keeps_sessions(make_app: MakeApp, tmp_path: Any) -> None:
    root = tmp_path / "rotating"
    old = {"kid": "old", "secret": "o" * 40}
    new = {"kid": "new", "secret": "n" * 40}
    first = await make_app(root=root, secret=None, keys=[old])
    email = await first.register()
    tokens = await first.login(email)
    await first.app.stop()
    second = await make_app(root=root, secret=None, keys=[old, new], active_key="new")
    me = await second.client.get("/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200  # still valid, signed by the old key
    answer = await second.client.post(
        "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert answer.status_code == 200
    import jwt

    assert jwt.get_unverified_header(answer.json()["access_token"])["kid"] == "new"


async def test_disabled_user_is_refused_everywhere(auth_app: AuthApp) -> None:
    client = auth_app.client
    email = await auth_app.register()
    tokens = await auth_app.login(email)
    user = await auth_app.auth.get_user_by_email(email)
    assert user is not None
    await auth_app.auth.disable_user(user.id)
    assert_problem(
        await client.get("/auth/me", headers=bearer(tokens["access_token"])),
        403,
        "account_disabled",
    )
    assert_problem(
        await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401
    )
    assert_problem(
        await client.post("/auth/login", json={"email": email, "password": PASSWORD}),
        403,
        "account_disabled",
    )


# -- another pattern protecting its routes -----------------------------------------------


class NotesSettings(Settings):
    """No settings."""


class NotesModule(Module[NotesSettings]):
    def router(self) -> APIRouter:
        guards = auth_guards(self.ctx.services)
        router = APIRouter()

        @router.get("/mine")
        async def mine(user: Annotated[User, Depends(guards.current_user)]) -> dict[str, Any]:
            return {"owner": user.id}

        @router.get("/admin", dependencies=[Depends(guards.require_role("admin"))])
        async def admin() -> dict[str, bool]:
            return {"admin": True}

        @router.get("/write")
        async def write(
            identity: Annotated[Identity, Depends(guards.require_scope("notes:write"))],
        ) -> dict[str, str]:
            return {"writer": identity.user_id}

        @router.get("/public")
        async def public() -> dict[str, bool]:
            return {"public": True}

        return router


notes = Pattern(
    id="notes",
    version="1.0.0",
    name="Notes (test)",
    settings=NotesSettings,
    factory=NotesModule,
    requires=[Auth, Database],
    mount="/notes",
)


async def test_another_pattern_uses_the_guards(make_app: MakeApp) -> None:
    app = await make_app(extra={"notes": {"use": "notes"}}, extra_patterns=[notes])
    client = app.client
    plain = await app.auth.create_user(new_email(), PASSWORD)
    admin = await app.auth.create_user(new_email(), PASSWORD, role="admin", scopes=["notes:write"])
    plain_token = (await app.auth.issue_tokens(plain)).access_token
    admin_token = (await app.auth.issue_tokens(admin)).access_token

    assert (await client.get("/notes/mine", headers=bearer(plain_token))).json() == {
        "owner": plain.id
    }
    assert_problem(await client.get("/notes/mine"), 401, "credentials_missing")
    assert_problem(
        await client.get("/notes/admin", headers=bearer(plain_token)),
        403,
        "insufficient_permission",
    )
    assert (await client.get("/notes/admin", headers=bearer(admin_token))).status_code == 200
    assert_problem(await client.get("/notes/write", headers=bearer(plain_token)), 403)
    assert (await client.get("/notes/write", headers=bearer(admin_token))).json() == {
        "writer": admin.id
    }

    http = app.app.instances["http"].module
    assert isinstance(http, FastAPIModule)
    table = {(row.path, row.methods): row.auth for row in http.routes()}
    assert table[("/notes/mine", ("GET",))] == "yes"
    assert table[("/notes/admin", ("GET",))] == "yes"
    assert table[("/notes/write", ("GET",))] == "yes"
    assert table[("/notes/public", ("GET",))] == "no"
    assert table[("/auth/me", ("GET",))] == "yes"
    assert table[("/auth/logout", ("POST",))] == "yes"
    assert table[("/auth/login", ("POST",))] == "no"
    openapi = (await client.get("/openapi.json")).json()
    assert "BearerToken" in openapi["components"]["securitySchemes"]


async def test_tables_have_the_prefix(auth_app: AuthApp) -> None:
    db = auth_app.auth.db
    async with db.session() as session:
        if db.backend == "sqlite":
            rows = await session.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        else:
            rows = await session.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
        names = {row[0] for row in rows}
    assert {"auth_users", "auth_refresh_tokens", "auth_one_time_tokens"} <= names
