"""Signing and verifying the two JWT kinds: short-lived access tokens and refresh tokens.

Both carry ``iss``, ``aud``, ``sub``, ``iat``, ``nbf``, ``exp``, ``jti`` and a ``typ``
claim (``access`` or ``refresh``) that is checked on every use, so neither kind can stand
in for the other. Access tokens add ``roles``, ``scopes``, ``sid`` (the refresh family
they belong to) and ``amr`` (RFC 8176: how the user proved who they are, ``pwd`` and
``otp``); refresh tokens add ``fam`` and the ``amr`` the session started with. ``2fa``
tokens are the short-lived challenge between a password and a second factor.
Verification requires every registered claim, applies the configured leeway to
``exp``/``nbf``/``iat``, and reports *why* a token is refused in words a client developer
can act on.
"""

from __future__ import annotations

import binascii
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from jwt.utils import base64url_decode

from rainmaker.patterns.auth_jwt.errors import InvalidTokenError, TokenExpiredError
from rainmaker.patterns.auth_jwt.keys import KeyRing

TokenType = Literal["access", "refresh", "2fa"]
MAX_TOKEN_LENGTH = 8192  # far above any token we issue; bounds the work on garbage
MAX_CACHED_HEADERS = 64
MAX_VERIFIED_TOKENS = 2048
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "typ"]


@dataclass(frozen=True)
class Issued:
    """A freshly signed token with its id and expiry (Unix seconds)."""

    token: str
    jti: str
    expires_at: int


class TokenCodec:
    """Signs tokens with the active key and verifies them with the key their ``kid`` names."""

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str,
        audience: str,
        leeway: float,
        pattern_id: str,
    ) -> None:
        self.ring = ring
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.pattern_id = pattern_id
        self._options = {"require": REQUIRED_CLAIMS}
        self._headers: dict[str, dict[str, Any]] = {}
        # Access tokens that passed every check, by their exact text: a client sends the
        # same token with each request until it expires, and the signature, issuer,
        # audience and claims of that text cannot change (the key ring is fixed for the
        # process's life), so only the times are checked again. Bounded, oldest out first;
        # only valid tokens enter, so garbage cannot flood it.
        self._verified: dict[str, dict[str, Any]] = {}

    # -- issuing ---------------------------------------------------------------------------

    def issue(
        self,
        kind: TokenType,
        subject: str,
        ttl: float,
        *,
        jti: str | None = None,
        claims: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> Issued:
        """A signed token of ``kind`` for ``subject`` living ``ttl`` seconds."""
        key = self.ring.active
        issued_at = int(now if now is not None else time.time())
        expires_at = issued_at + int(ttl)
        token_id = jti or str(uuid.uuid4())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_at,
            "jti": token_id,
            "typ": kind,
        }
        if claims:
            payload.update(claims)
        token = jwt.encode(payload, key.signing, algorithm=key.algorithm, headers={"kid": key.kid})
        return Issued(token, token_id, expires_at)

    def access_token(
        self,
        subject: str,
        ttl: float,
        *,
        roles: Sequence[str],
        scopes: Sequence[str],
        session_id: str | None,
        version: int = 0,
        amr: Sequence[str] = (),
    ) -> Issued:
        """An access token carrying the user's roles, scopes, session, token version and
        authentication methods."""
        return self.issue(
            "access",
            subject,
            ttl,
            claims={
                "roles": list(roles),
                "scopes": list(scopes),
                "sid": session_id,
                "tv": version,
                "amr": list(amr),
            },
        )

    # -- verifying -------------------------------------------------------------------------

    def decode(self, token: str, expected: TokenType) -> dict[str, Any]:
        """The claims of a valid token of kind ``expected``; :class:`InvalidTokenError` else."""
        if expected == "access":
            verified = self._verified.get(token)
            if verified is not None:
                if self._still_valid(verified):
                    return dict(verified)
                del self._verified[token]  # expired: the full check below says so
        claims = self._decode(token, expected)
        if expected == "access":
            verified_tokens = self._verified
            if len(verified_tokens) >= MAX_VERIFIED_TOKENS:
                del verified_tokens[next(iter(verified_tokens))]
            verified_tokens[token] = dict(claims)
        return claims

    def _still_valid(self, claims: Mapping[str, Any]) -> bool:
        """Whether a verified token's times still pass (as ``jwt.decode`` checks them)."""
        now = time.time()
        leeway = self.leeway
        return bool(
            claims["exp"] > now - leeway
            and claims["nbf"] <= now + leeway
            and claims["iat"] <= now + leeway
        )

    def _decode(self, token: str, expected: TokenType) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise self._invalid("the token is empty or far too long to be one of ours")
        header = self._header(token)
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise self._invalid("the token header names no key (kid)")
        key = self.ring.get(kid)
        if key is None:
            raise self._invalid(f"the token was signed with an unknown key (kid {kid[:64]!r})")
        if header.get("alg") != key.algorithm:
            # Checked here for the message; jwt.decode below enforces it again.
            raise self._invalid(
                f"the token's algorithm {str(header.get('alg'))[:16]!r} is not the one key "
                f"{kid!r} uses"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.verifying,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=self._options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpiredError(
                "the token has expired; refresh it or log in again", pattern_id=self.pattern_id
            ) from None
        except jwt.ImmatureSignatureError:
            raise self._invalid(
                "the token is not valid yet (nbf or iat is in the future)"
            ) from None
        except jwt.InvalidIssuerError:
            raise self._invalid("the token was issued by another issuer (iss)") from None
        except jwt.InvalidAudienceError:
            raise self._invalid("the token is meant for another audience (aud)") from None
        except jwt.MissingRequiredClaimError as error:
            raise self._invalid(f"the token lacks the {error.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise self._invalid("the token's signature does not match") from None
        except jwt.PyJWTError:
            raise self._invalid("the token is not a valid JWT") from None
        kind = claims.get("typ")
        if kind != expected:
            if kind in ("access", "refresh", "2fa"):
                use = {
                    "access": "an Authorization header",
                    "refresh": "POST /refresh",
                    "2fa": "POST /login/2fa or the 2fa enrolment routes",
                }[kind]
                raise self._invalid(f"this is a {kind} token; it belongs in {use}, not here")
            raise self._invalid("the token has no valid typ claim")
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
            raise self._invalid("the token's sub and jti must be strings")
        return claims

    def _header(self, token: str) -> Mapping[str, Any]:
        """The token's header, parsed once per distinct header segment.

        Every token we sign has one of a handful of headers (one per key), so parsed
        headers are kept in a small bounded map; PyJWT then parses the token only once,
        in ``jwt.decode``, instead of twice. Headers of garbage tokens are parsed but not
        kept once the map is full, so it cannot be flooded.
        """
        segment = token.partition(".")[0]
        header = self._headers.get(segment)
        if header is not None:
            return header
        try:
            parsed = json.loads(base64url_decode(segment))
        except (ValueError, TypeError, binascii.Error):
            raise self._invalid("the token is not a well-formed JWT") from None
        if not isinstance(parsed, dict):
            raise self._invalid("the token is not a well-formed JWT")
        if len(self._headers) < MAX_CACHED_HEADERS:
            self._headers[segment] = parsed
        return parsed

    def _invalid(self, message: str) -> InvalidTokenError:
        return InvalidTokenError(message, pattern_id=self.pattern_id)
