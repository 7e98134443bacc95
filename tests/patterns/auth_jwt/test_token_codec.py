"""TokenCodec keeps access tokens it verified, and still refuses them once they expire."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from rainmaker.patterns.auth_jwt.errors import InvalidTokenError, TokenExpiredError
from rainmaker.patterns.auth_jwt.keys import KeyRing, load_key
from rainmaker.patterns.auth_jwt.settings import SigningKey
from rainmaker.patterns.auth_jwt.tokens import MAX_VERIFIED_TOKENS, TokenCodec

SECRET = "codec-test-secret-0123456789-abcdefghijklmnop"


def codec(leeway: float = 0) -> TokenCodec:
    key = load_key(SigningKey(kid="default", algorithm="HS256", secret=SecretStr(SECRET)))
    return TokenCodec(
        KeyRing({"default": key}, "default"),
        issuer="rainmaker",
        audience="rainmaker-api",
        leeway=leeway,
        pattern_id="auth",
    )


def test_a_verified_token_decodes_again_to_the_same_claims() -> None:
    tokens = codec()
    token = tokens.issue("access", "user-1", 60).token
    first = tokens.decode(token, "access")
    first["sub"] = "someone else"  # the caller's copy: the kept claims are not touched
    assert tokens.decode(token, "access")["sub"] == "user-1"


def test_a_kept_token_is_refused_once_it_expires() -> None:
    tokens = codec()
    issued = tokens.issue("access", "user-1", 2)  # valid for one to two more seconds
    token = issued.token
    assert tokens.decode(token, "access")["sub"] == "user-1"
    while time.time() <= issued.expires_at:
        time.sleep(0.05)
    with pytest.raises(TokenExpiredError):
        tokens.decode(token, "access")


def test_a_kept_access_token_is_still_refused_as_another_kind() -> None:
    tokens = codec()
    token = tokens.issue("access", "user-1", 60).token
    tokens.decode(token, "access")
    with pytest.raises(InvalidTokenError, match="access token"):
        tokens.decode(token, "refresh")


def test_refused_tokens_are_not_kept_and_the_store_is_bounded() -> None:
    tokens = codec()
    token = tokens.issue("access", "user-1", 60).token
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(3):
        with pytest.raises(InvalidTokenError):
            tokens.decode(forged, "access")
    for number in range(MAX_VERIFIED_TOKENS + 10):
        tokens.decode(tokens.issue("access", f"user-{number}", 60).token, "access")
    assert len(tokens._verified) == MAX_VERIFIED_TOKENS
    assert forged not in tokens._verified
