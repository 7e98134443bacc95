"""One configured provider: discovery, the authorization URL, the code exchange, the profile.

OpenID Connect providers are read from ``<issuer>/.well-known/openid-configuration``; their
ID tokens are checked with joserfc (Authlib's successor for JOSE) against the provider's
JWKS, which is fetched again when a token names a key id it does not hold (the provider
rotated its keys). GitHub-style providers (OAuth 2 only) give the profile through their
user and email API instead. Authlib builds the authorization URL and the PKCE challenge.

Any failure to reach a provider, or an answer that is not what the protocol says, is
:class:`ProviderUnavailableError` (503) and marks the provider unhealthy until it answers
again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from rainmaker.patterns.oauth_login.errors import (
    CodeInvalidError,
    IdTokenAudienceError,
    IdTokenError,
    IdTokenExpiredError,
    IdTokenIssuerError,
    IdTokenNonceError,
    IdTokenSignatureError,
    ProviderUnavailableError,
)
from rainmaker.patterns.oauth_login.settings import ProviderSettings

PATTERN_ID = "oauth-login"
# Asymmetric algorithms only: "none" and HS* (keyed by the client secret) are refused.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


@dataclass(frozen=True)
class Profile:
    """Who signed in at the provider: its stable subject and the email it vouches for."""

    subject: str
    email: str | None
    email_verified: bool


def new_verifier() -> str:
    """A PKCE code verifier (RFC 7636: 43-128 unreserved characters)."""
    return secrets.token_urlsafe(48)


class ProviderClient:
    """The protocol side of one provider, named ``name`` in the routes."""

    def __init__(
        self,
        name: str,
        settings: ProviderSettings,
        http: httpx.AsyncClient,
        *,
        redirect_uri: str,
        leeway: int,
    ) -> None:
        self.name = name
        self.settings = settings
        self.preset = settings.resolved()
        self.http = http
        self.redirect_uri = redirect_uri
        self.leeway = leeway
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self.last_error: str | None = None
        self.credentials_refused: str | None = None

    @property
    def problem(self) -> str | None:
        """Why the provider is not usable now (for health), if it is not."""
        return self.last_error or self.credentials_refused

    @property
    def label(self) -> str:
        """What users see."""
        return self.settings.label or self.name.replace("-", " ").replace("_", " ").title()

    # -- talking to the provider ------------------------------------------------------------

    def _unavailable(self, what: str, error: Exception | str) -> ProviderUnavailableError:
        reason = f"{what}: {error}" if isinstance(error, str) else f"{what}: {error!r}"
        self.last_error = reason
        return ProviderUnavailableError(
            f"the sign-in provider {self.name!r} is unavailable ({what}); try again later",
            pattern_id=PATTERN_ID,
            public=True,  # names the provider and the step, never a host (that is in health)
        )

    async def _get_json(self, url: str, what: str, **options: Any) -> Any:
        try:
            answer = await self.http.get(url, **options)
            answer.raise_for_status()
            body = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise self._unavailable(what, error) from error
        self.last_error = None
        return body

    async def metadata(self) -> dict[str, Any]:
        """The provider's endpoints: discovered once (OpenID Connect), or the preset's."""
        if self._metadata is not None:
            return self._metadata
        preset = self.preset
        if not preset.oidc:
            self._metadata = {
                "authorization_endpoint": preset.authorize_url,
                "token_endpoint": preset.token_url,
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
            return self._metadata
        assert preset.issuer is not None  # settings require one for OIDC presets
        found = await self._get_json(
            f"{preset.issuer}/.well-known/openid-configuration", "discovery"
        )
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(found, dict) or any(not found.get(key) for key in needed):
            raise self._unavailable("discovery", "the configuration lacks endpoints")
        if str(found["issuer"]).rstrip("/") != preset.issuer:
            # OpenID Connect Discovery 4.3: a configuration for another issuer is unusable.
            raise self._unavailable("discovery", f"it names the issuer {found['issuer']!r}")
        self._metadata = found
        return found

    async def probe(self) -> None:
        """Reach the provider once (for health): discovery, and forget a past failure."""
        self._metadata = None if self.last_error else self._metadata
        await self.metadata()

    async def authorize_url(self, *, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser: the code flow with PKCE (S256), state and nonce."""
        found = await self.metadata()
        extra: dict[str, str] = {
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if self.preset.oidc:
            extra["nonce"] = nonce
        url: str = prepare_grant_uri(
            found["authorization_endpoint"],
            self.settings.client_id,
            "code",
            redirect_uri=self.redirect_uri,
            scope=" ".join(self.preset.scopes),
            state=state,
            **extra,
        )
        return url

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        """The provider's tokens for an authorization code (refused: ``CodeInvalidError``)."""
        found = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
            "client_id": self.settings.client_id,
        }
        auth: httpx.Auth | None = None
        secret = self.settings.client_secret
        if secret is not None:
            methods = found.get("token_endpoint_auth_methods_supported") or [
                "client_secret_basic"  # the default, OpenID Connect Discovery 3
            ]
            if "client_secret_basic" in methods:
                auth = httpx.BasicAuth(self.settings.client_id, secret.get_secret_value())
            else:
                form["client_secret"] = secret.get_secret_value()
        try:
            answer = await self.http.post(
                found["token_endpoint"],
                data=form,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},  # GitHub answers a form otherwise
            )
            body = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise self._unavailable("token exchange", error) from error
        if answer.status_code >= 500:
            raise self._unavailable("token exchange", f"HTTP {answer.status_code}")
        self.last_error = None
        if not isinstance(body, dict):
            raise self._unavailable("token exchange", "the answer is not a JSON object")
        if body.get("error") in {"invalid_client", "unauthorized_client"}:
            # Not the user's doing: this app's client id or secret is wrong at the provider.
            # Kept until an exchange succeeds (discovery answering does not fix it).
            self.credentials_refused = f"token exchange: the provider says {body['error']}"
            raise self._unavailable("token exchange", f"the provider says {body['error']}")
        self.credentials_refused = None
        if "error" in body or answer.status_code >= 400 or "access_token" not in body:
            raise CodeInvalidError(
                f"{self.name} refused the authorization code "
                f"({body.get('error', 'no access token')}): it was used already, expired, "
                "or was issued for another sign-in; start again",
                pattern_id=PATTERN_ID,
            )
        return body

    async def profile(self, tokens: dict[str, Any], *, nonce: str) -> Profile:
        """Who signed in: from the validated ID token, or the user and email API."""
        if self.preset.oidc:
            id_token = tokens.get("id_token")
            if not isinstance(id_token, str):
                raise IdTokenError(
                    f"{self.name} sent no ID token (is 'openid' among the scopes?)",
                    pattern_id=PATTERN_ID,
                )
            claims = await self.validate_id_token(id_token, nonce=nonce)
            verified = claims.get("email_verified")
            email = claims.get("email")
            return Profile(
                subject=str(claims["sub"]),
                email=email if isinstance(email, str) and email else None,
                # Some providers send the string "true".
                email_verified=verified is True or verified == "true",
            )
        return await self._api_profile(str(tokens["access_token"]))

    async def _api_profile(self, access_token: str) -> Profile:
        """GitHub's shape: /user for the id, /user/emails for a verified primary address."""
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        assert self.preset.user_url is not None and self.preset.emails_url is not None
        user = await self._get_json(self.preset.user_url, "user API", headers=headers)
        emails = await self._get_json(self.preset.emails_url, "emails API", headers=headers)
        if not isinstance(user, dict) or "id" not in user or not isinstance(emails, list):
            raise self._unavailable("user API", "unexpected answer")
        entries = [entry for entry in emails if isinstance(entry, dict) and entry.get("email")]
        chosen = next(
            (e for e in entries if e.get("primary") and e.get("verified")),
            next((e for e in entries if e.get("verified")), None),
        ) or next((e for e in entries if e.get("primary")), None)
        return Profile(
            subject=str(user["id"]),
            email=str(chosen["email"]) if chosen else None,
            email_verified=bool(chosen and chosen.get("verified") is True),
        )

    # -- ID tokens ------------------------------------------------------------------------

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            found = await self.metadata()
            body = await self._get_json(found["jwks_uri"], "JWKS")
            try:
                self._keys = KeySet.import_key_set(body)
            except (JoseError, ValueError, TypeError, KeyError) as error:
                raise self._unavailable("JWKS", error) from error
        return self._keys

    async def _signing_key(self, kid: str | None, *, refresh: bool) -> Any:
        """The published key a token names (one key and no kid: that key)."""
        keys = await self._key_set(refresh=refresh)
        try:
            return keys.get_by_kid(kid)
        except (InvalidKeyIdError, ValueError):
            return None

    async def _verified(self, token: str, kid: str | None, algorithms: list[str]) -> Any:
        """The decoded token, its signature checked against the JWKS.

        The JWKS is fetched again, once, when the token names an unknown kid or (a provider
        that signs without kids) the cached key does not verify it: that is a rotation.
        """
        for refresh in (False, True):
            key = await self._signing_key(kid, refresh=refresh)
            if key is None:
                continue
            try:
                return jwt.decode(token, key, algorithms=algorithms)
            except BadSignatureError:
                continue
            except (JoseError, ValueError) as error:
                raise IdTokenError("the ID token is malformed", pattern_id=PATTERN_ID) from error
        raise IdTokenSignatureError(
            f"the ID token is not signed by a key {self.name} publishes (kid {kid!r})",
            pattern_id=PATTERN_ID,
        )

    async def validate_id_token(self, token: str, *, nonce: str) -> dict[str, Any]:
        """The claims of a valid ID token: signature, ``iss``, ``aud``, ``exp``, ``nonce``."""
        found = await self.metadata()
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError) as error:
            raise IdTokenError("the ID token is malformed", pattern_id=PATTERN_ID) from error
        offered = found.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in SIGNING_ALGORITHMS if alg in offered]
        if header.get("alg") not in algorithms:
            raise IdTokenSignatureError(
                f"the ID token's algorithm {header.get('alg')!r} is not accepted",
                pattern_id=PATTERN_ID,
            )
        decoded = await self._verified(token, header.get("kid"), algorithms)
        claims: dict[str, Any] = dict(decoded.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": found["issuer"]},
            sub={"essential": True},
            aud={"essential": True, "value": self.settings.client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as error:
            raise IdTokenExpiredError(
                "the ID token has expired: start the sign-in again", pattern_id=PATTERN_ID
            ) from error
        except (InvalidClaimError, MissingClaimError) as error:
            raise _claim_error(error.claim) from error
        return claims


def _claim_error(claim: str) -> IdTokenError:
    """The error that names the failing claim."""
    if claim == "aud":
        return IdTokenAudienceError(
            "the ID token was issued for another client", pattern_id=PATTERN_ID
        )
    if claim == "iss":
        return IdTokenIssuerError(
            "the ID token was issued by another issuer", pattern_id=PATTERN_ID
        )
    if claim == "nonce":
        return IdTokenNonceError(
            "the ID token's nonce is not this sign-in's (a replayed token?)",
            pattern_id=PATTERN_ID,
        )
    return IdTokenError(f"the ID token's {claim!r} claim is invalid", pattern_id=PATTERN_ID)
