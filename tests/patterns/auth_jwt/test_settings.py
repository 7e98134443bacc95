"""Settings validation, the password policy and the rate limiter (no database needed)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import ValidationError

from rainmaker.kernel.errors import RateLimitedError
from rainmaker.kernel.secrets import secret_values
from rainmaker.patterns.auth_jwt.errors import PasswordRejectedError
from rainmaker.patterns.auth_jwt.passwords import PasswordPolicyChecker, load_common_passwords
from rainmaker.patterns.auth_jwt.pattern import auth_jwt
from rainmaker.patterns.auth_jwt.rate_limit import AttemptLimiter
from rainmaker.patterns.auth_jwt.settings import AuthSettings, PasswordPolicy, RateLimit
from tests.patterns.auth_jwt.conftest import SECRET


def pem(key: Any) -> str:
    text: str = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return text


def errors_of(**settings: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        AuthSettings.model_validate(settings)
    return str(caught.value)


def test_a_signing_key_is_required() -> None:
    assert "no signing key" in errors_of()


def test_short_secrets_are_refused() -> None:
    assert "shorter than 32" in errors_of(secret="too-short")
    assert "shorter than 32" in errors_of(keys=[{"kid": "a", "secret": "short"}])


def test_secret_is_a_secretstr_and_redacted() -> None:
    settings = AuthSettings.model_validate({"secret": SECRET})
    assert SECRET not in repr(settings)
    assert SECRET in list(secret_values(settings))


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ([{"kid": "a", "secret": "s" * 40}, {"kid": "a", "secret": "t" * 40}], "several keys"),
        ([{"kid": "bad kid!", "secret": "s" * 40}], "kid"),
        ([{"kid": "r", "algorithm": "RS256", "secret": "s" * 40}], "PEM"),
        ([{"kid": "r", "algorithm": "RS256"}], "needs a private_key"),
        ([{"kid": "r", "algorithm": "RS256", "private_key": "not a pem"}], "does not parse"),
        ([{"kid": "h", "algorithm": "HS256", "public_key": "x", "secret": "s" * 40}], "only a"),
    ],
)
def test_bad_key_rings(keys: list[dict[str, Any]], words: str) -> None:
    assert words in errors_of(keys=keys)


def test_pem_must_match_the_algorithm() -> None:
    ed = pem(ed25519.Ed25519PrivateKey.generate())
    assert "cannot be used for RS256" in errors_of(
        keys=[{"kid": "x", "algorithm": "RS256", "private_key": ed}]
    )
    p384 = pem(ec.generate_private_key(ec.SECP384R1()))
    assert "P-256" in errors_of(keys=[{"kid": "x", "algorithm": "ES256", "private_key": p384}])
    ok = pem(ec.generate_private_key(ec.SECP256R1()))
    AuthSettings.model_validate({"keys": [{"kid": "x", "algorithm": "ES256", "private_key": ok}]})


def test_active_key_must_be_able_to_sign() -> None:
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    keys = [
        {"kid": "old", "algorithm": "EdDSA", "public_key": public},
        {"kid": "new", "secret": "n" * 40},
    ]
    assert "can sign" in errors_of(keys=keys, active_key="old")
    assert "can sign" in errors_of(keys=keys, active_key="missing")
    settings = AuthSettings.model_validate({"keys": keys})
    assert settings.signing_key() is not None and settings.signing_key().kid == "new"  # type: ignore[union-attr]


def test_other_settings_rules() -> None:
    assert "either secret or keys" in errors_of(
        secret=SECRET, keys=[{"kid": "a", "secret": SECRET}]
    )
    assert "{token}" in errors_of(secret=SECRET, verify_url="https://app.example/verify")
    assert "positive" in errors_of(secret=SECRET, access_ttl=0)
    assert "min_length" in errors_of(secret=SECRET, password={"min_length": 50, "max_length": 20})
    assert "roles" in errors_of(secret=SECRET, default_roles=["has space"])
    assert "extra" in errors_of(secret=SECRET, unknown_key=1).lower()


def test_every_example_validates_and_fields_are_documented() -> None:
    for example in auth_jwt.examples:
        AuthSettings.model_validate(example)
    schema = AuthSettings.model_json_schema()
    assert all(prop.get("description") for prop in schema["properties"].values())


def test_password_policy() -> None:
    policy = PasswordPolicyChecker(
        PasswordPolicy(min_length=10, max_length=64), load_common_passwords(), pattern_id="auth"
    )
    assert policy.check("a decent passphrase") == "a decent passphrase"
    # NFKC: the full-width and the ASCII spelling are one password.
    wide = "".join(chr(ord(c) + 0xFEE0) if c != " " else c for c in "passphrase ok")
    assert policy.check(wide) == "passphrase ok"
    for bad, words in [
        ("short", "at least 10"),
        ("x" * 65, "longer than 64"),
        ("QWERTYUIOP", "commonly used"),
        ("          ", "only spaces"),
    ]:
        with pytest.raises(PasswordRejectedError, match=words):
            policy.check(bad)
    with pytest.raises(PasswordRejectedError, match="email"):
        policy.check("i am margaret here", email="margaret@example.com")


def test_common_password_file_adds_to_the_list(tmp_path: Any) -> None:
    extra = tmp_path / "banned.txt"
    extra.write_text("# ours\nacme-corporation\n")
    common = load_common_passwords(extra)
    assert "acme-corporation" in common and "password123" in common


async def test_fixed_window_limiter_in_memory() -> None:
    now = [1000.0]
    limiter = AttemptLimiter(None, enabled=True, pattern_id="auth", clock=lambda: now[0])
    limit = RateLimit(attempts=2, window=60)
    await limiter.hit("login", "a@example.com", limit, what="login attempts")
    await limiter.hit("login", "a@example.com", limit, what="login attempts")
    with pytest.raises(RateLimitedError) as caught:
        await limiter.hit("login", "a@example.com", limit, what="login attempts")
    assert caught.value.retry_after == 20  # the window is [960, 1020)
    await limiter.hit("login", "b@example.com", limit, what="login attempts")  # others unaffected
    now[0] = 1021.0  # next window
    await limiter.hit("login", "a@example.com", limit, what="login attempts")
    off = AttemptLimiter(None, enabled=False, pattern_id="auth")
    for _ in range(10):
        await off.hit("login", "a", limit, what="x")


def test_routes_are_listed_without_starting(tmp_path: Any) -> None:
    # `rainmaker routes` composes the app without starting it: the guards resolve lazily.
    from rainmaker.patterns.http.module import FastAPIModule
    from rainmaker.testing.harness import build_app
    from tests.patterns.auth_jwt.conftest import auth_settings
    from tests.patterns.auth_jwt.test_flows import notes

    app = build_app(
        {
            "db": {"use": "database-sqlite", "path": "never.db"},
            "auth": auth_settings(),
            "notes": {"use": "notes"},
            "http": {"use": "framework-fastapi"},
        },
        root=tmp_path,
        extra_patterns=[notes],
    )
    app.build()
    http = app.instances["http"].module
    assert isinstance(http, FastAPIModule)
    rows = {(row.path, row.methods[0]): row for row in http.routes()}
    assert rows[("/notes/mine", "GET")].auth == "yes"
    assert rows[("/auth/password", "POST")].auth == "yes"
    assert rows[("/auth/register", "POST")].auth == "no"
    assert rows[("/auth/me", "GET")].instance == "auth"
    assert not (tmp_path / "never.db").exists()
