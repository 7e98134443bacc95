"""Bad input and attacks: each answered 4xx problem+json, never 500, on both backends."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.patterns.auth_jwt.conftest import (
    PASSWORD,
    SECRET,
    AuthApp,
    MakeApp,
    assert_problem,
    bearer,
    new_email,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand (PyJWT refuses to build most of these, which is the point)."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(payload).encode())
    signing_input = f"{head}.{body}".encode()
    signature = b"" if key is None else hmac.new(key, signing_input, hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def claims(user_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "rainmaker",
        "aud": "rainmaker-api",
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "forged-jti",
        "typ": "access",
        "roles": ["admin"],
        "scopes": [],
        "sid": None,
        "tv": 0,
    }
    base.update(changes)
    return base


async def session(app: AuthApp) -> tuple[str, dict[str, Any]]:
    """A registered user's id and a fresh token pair."""
    email = await app.register()
    tokens = await app.login(email)
    me = await app.client.get("/auth/me", headers=bearer(tokens["access_token"]))
    return me.json()["id"], tokens


async def me(app: AuthApp, token: str) -> httpx.Response:
    return await app.client.get("/auth/me", headers=bearer(token))


async def test_alg_none_is_refused(auth_app: AuthApp) -> None:
    user_id, _ = await session(auth_app)
    for alg in ("none", "None", "NONE"):
        token = forge({"alg": alg, "typ": "JWT", "kid": "default"}, claims(user_id), None)
        body = assert_problem(await me(auth_app, token), 401, "invalid_token")
        assert "algorithm" in body["detail"]


async def test_tampered_payload_is_refused(auth_app: AuthApp) -> None:
    user_id, tokens = await session(auth_app)
    head, _, signature = tokens["access_token"].split(".")
    payload = b64(json.dumps(claims(user_id, roles=["admin", "root"])).encode())
    body = assert_problem(await me(auth_app, f"{head}.{payload}.{signature}"), 401)
    assert "signature" in body["detail"]
    # Signed with another secret: same answer.
    other = jwt.encode(claims(user_id), "x" * 64, algorithm="HS256", headers={"kid": "default"})
    assert_problem(await me(auth_app, other), 401, "invalid_token")


async def test_expired_and_not_yet_valid_tokens(auth_app: AuthApp) -> None:
    user_id, _ = await session(auth_app)
    codec = auth_app.auth.codec
    old = codec.issue("access", user_id, 60, now=time.time() - 3600, claims={"tv": 0}).token
    body = assert_problem(await me(auth_app, old), 401, "token_expired")
    assert "expired" in body["detail"]
    future = codec.issue("access", user_id, 600, now=time.time() + 3600, claims={"tv": 0}).token
    body = assert_problem(await me(auth_app, future), 401, "invalid_token")
    assert "not valid yet" in body["detail"]
    # Within the leeway (30 s) a slightly-off clock is tolerated.
    skewed = codec.issue("access", user_id, 600, now=time.time() + 10, claims={"tv": 0}).token
    assert (await me(auth_app, skewed)).status_code == 200


@pytest.mark.parametrize(
    ("claim", "value", "words"),
    [("iss", "https://evil.example", "issuer"), ("aud", "another-api", "audience")],
)
async def test_wrong_issuer_or_audience(
    auth_app: AuthApp, claim: str, value: str, words: str
) -> None:
    user_id, _ = await session(auth_app)
    token = jwt.encode(
        claims(user_id, **{claim: value}), SECRET, algorithm="HS256", headers={"kid": "default"}
    )
    assert words in assert_problem(await me(auth_app, token), 401, "invalid_token")["detail"]


async def test_missing_claims_are_refused(auth_app: AuthApp) -> None:
    user_id, _ = await session(auth_app)
    payload = claims(user_id)
    del payload["jti"]
    token = jwt.encode(payload, SECRET, algorithm="HS256", headers={"kid": "default"})
    assert "jti" in assert_problem(await me(auth_app, token), 401)["detail"]


async def test_unknown_or_missing_kid(auth_app: AuthApp) -> None:
    user_id, _ = await session(auth_app)
    ghost = jwt.encode(claims(user_id), SECRET, algorithm="HS256", headers={"kid": "ghost"})
    assert "unknown key" in assert_problem(await me(auth_app, ghost), 401)["detail"]
    bare = jwt.encode(claims(user_id), SECRET, algorithm="HS256")
    assert "kid" in assert_problem(await me(auth_app, bare), 401)["detail"]


async def test_refresh_token_is_not_an_access_token_and_back(auth_app: AuthApp) -> None:
    _, tokens = await session(auth_app)
    body = assert_problem(await me(auth_app, tokens["refresh_token"]), 401, "invalid_token")
    assert "refresh token" in body["detail"]
    answer = await auth_app.client.post(
        "/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert "access token" in assert_problem(answer, 401, "invalid_token")["detail"]


async def test_reused_refresh_token_revokes_its_family(auth_app: AuthApp) -> None:
    client = auth_app.client
    _, tokens = await session(auth_app)
    first = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json()
    reuse = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_problem(reuse, 401, "refresh_token_reused")
    # The thief's (or victim's) newer token of the same family is dead too.
    after = await client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert_problem(after, 401, "invalid_token")


async def test_concurrent_refreshes_with_one_token_cannot_both_win(auth_app: AuthApp) -> None:
    _, tokens = await session(auth_app)
    auth = auth_app.auth
    results = await asyncio.gather(
        auth.refresh(tokens["refresh_token"]),
        auth.refresh(tokens["refresh_token"]),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1, results


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a b", "Token abc"],
    ids=["missing", "empty", "no-token", "blank-token", "basic", "two-parts", "other-scheme"],
)
async def test_malformed_authorization_header(auth_app: AuthApp, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    answer = await auth_app.client.get("/auth/me", headers=headers)
    assert "Bearer" in assert_problem(answer, 401, "credentials_missing")["detail"]


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "x" * 10_000, "..", "e30.e30.e30"])
async def test_garbage_tokens(auth_app: AuthApp, token: str) -> None:
    assert_problem(await me(auth_app, token), 401, "invalid_token")
    answer = await auth_app.client.post("/auth/refresh", json={"refresh_token": token[:8192]})
    assert answer.status_code in (401, 422)
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_disabled_user_tokens_are_refused(auth_app: AuthApp) -> None:
    user_id, tokens = await session(auth_app)
    await auth_app.auth.disable_user(user_id)
    # Both the database-backed guard and the token-only one refuse it.
    assert_problem(await me(auth_app, tokens["access_token"]), 403, "account_disabled")
    answer = await auth_app.client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert_problem(answer, 403, "account_disabled")


async def test_megabyte_password_is_refused_before_hashing(
    auth_app: AuthApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[int] = []
    hasher = auth_app.auth.hasher
    real_hash, real_verify = hasher.hash, hasher._verify

    async def counting_hash(password: str) -> str:
        hashed.append(len(password))
        return await real_hash(password)

    def counting_verify(stored: str, password: str) -> bool:
        hashed.append(len(password))
        return real_verify(stored, password)

    monkeypatch.setattr(hasher, "hash", counting_hash)
    monkeypatch.setattr(hasher, "_verify", counting_verify)
    huge = "a" * 1_000_000
    email = await auth_app.register()
    hashed.clear()
    for path in ("/auth/register", "/auth/login"):
        answer = await auth_app.client.post(path, json={"email": email, "password": huge})
        body = assert_problem(answer, 422)
        assert "password" in body["detail"]
        assert huge not in answer.text  # the rejected value is never echoed
    # The Python API refuses it too, and nothing was hashed along the way.
    with pytest.raises(Exception, match="longer than"):
        await auth_app.auth.authenticate(email, huge)
    assert hashed == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/login", b'{"email": "a@example.com", "password": '),
        ("/auth/login", b"not json at all"),
        ("/auth/register", b"[1, 2, 3]"),
        ("/auth/refresh", b'{"refresh_token": 42}'),
        ("/auth/password-reset/confirm", b'{"token": "abc"}'),
        ("/auth/login", b'{"email": "a@example.com"}'),
        ("/auth/verify", b"{}"),
        ("/auth/login", b'{"email": "a@example.com", "password": "x", "role": "admin"}'),
    ],
)
async def test_malformed_json_and_missing_fields(auth_app: AuthApp, path: str, body: bytes) -> None:
    answer = await auth_app.client.post(
        path, content=body, headers={"content-type": "application/json"}
    )
    assert_problem(answer, 422)


async def test_invalid_email_is_a_clear_422(auth_app: AuthApp) -> None:
    for email in ("not-an-email", "a@b", "Ada <ada@example.com>", "a\r\nBcc: x@y.example"):
        answer = await auth_app.client.post(
            "/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert_problem(answer, 422, "invalid_email")


async def test_forged_one_time_tokens(auth_app: AuthApp) -> None:
    await auth_app.register()
    for path, body in [
        ("/auth/verify", {"token": "A" * 43}),
        ("/auth/password-reset/confirm", {"token": "B" * 43, "new_password": "a fine password"}),
    ]:
        assert_problem(await auth_app.client.post(path, json=body), 422, "invalid_one_time_token")


# -- asymmetric keys ----------------------------------------------------------------------


def rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def test_hs256_signed_with_the_rs256_public_key_is_refused(make_app: MakeApp) -> None:
    private, public = rsa_pem()
    app = await make_app(
        secret=None, keys=[{"kid": "rsa1", "algorithm": "RS256", "private_key": private}]
    )
    user_id, tokens = await session(app)
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "RS256"
    # The classic confusion: HMAC keyed with the (public!) PEM, header claiming HS256.
    token = forge({"alg": "HS256", "typ": "JWT", "kid": "rsa1"}, claims(user_id), public.encode())
    body = assert_problem(await me(app, token), 401, "invalid_token")
    assert "algorithm" in body["detail"]

    jwks = (await app.client.get("/auth/.well-known/jwks.json")).json()
    [key] = jwks["keys"]
    assert key["kid"] == "rsa1" and key["alg"] == "RS256" and key["kty"] == "RSA"
    assert "d" not in key  # never the private part
    verified = jwt.decode(
        tokens["access_token"],
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience="rainmaker-api",
    )
    assert verified["sub"] == user_id


async def test_eddsa_keys_and_jwks(make_app: MakeApp) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    app = await make_app(
        secret=None,
        keys=[
            {"kid": "ed", "algorithm": "EdDSA", "private_key": private},
            {"kid": "hs", "secret": SECRET},
        ],
        active_key="ed",
    )
    _, tokens = await session(app)
    assert (await me(app, tokens["access_token"])).status_code == 200
    jwks = (await app.client.get("/auth/.well-known/jwks.json")).json()
    assert [k["kid"] for k in jwks["keys"]] == ["ed"]  # the HMAC secret is never published


async def test_symmetric_setup_serves_no_jwks(auth_app: AuthApp) -> None:
    assert_problem(await auth_app.client.get("/auth/.well-known/jwks.json"), 404)


async def test_a_token_of_one_user_cannot_reach_another_after_deletion(auth_app: AuthApp) -> None:
    # A validly signed token for a user id that does not exist.
    token = auth_app.auth.codec.access_token(
        "00000000-0000-0000-0000-000000000000", 600, roles=[], scopes=[], session_id=None
    ).token
    assert_problem(await me(auth_app, token), 401, "invalid_token")


async def test_login_with_unknown_email_and_1mb_email(auth_app: AuthApp) -> None:
    answer = await auth_app.client.post(
        "/auth/login", json={"email": "x" * 500_000 + "@example.com", "password": "whatever"}
    )
    assert_problem(answer, 422)
    answer = await auth_app.client.post(
        "/auth/login", json={"email": new_email(), "password": "whatever it is"}
    )
    assert_problem(answer, 401, "invalid_credentials")


async def test_401_answers_say_bearer_as_rfc_6750_asks(auth_app: AuthApp) -> None:
    missing = await auth_app.client.get("/auth/me")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    forged = await auth_app.client.get("/auth/me", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert forged.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
