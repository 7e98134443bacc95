"""Errors of ``oauth-login``, each a problem+json with a stable code.

Callback errors are the client's or the provider's doing, never a 500: a wrong, missing,
used or expired ``state`` (or a browser that did not start the flow) is
``oauth_state_invalid``; a code the provider refuses (replayed, expired) is
``oauth_code_invalid``; an ID token that fails validation names what failed.
"""

from __future__ import annotations

from typing import ClassVar

from rainmaker import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PatternError,
    UnauthorizedError,
    UnavailableError,
)


class OAuthBadRequestError(PatternError):
    """The base of callback and redirect errors the client caused (HTTP 400)."""

    code: ClassVar[str] = "oauth_bad_request"
    title: ClassVar[str] = "Bad OAuth request"
    status: ClassVar[int] = 400


class ProviderUnknownError(NotFoundError):
    """No provider of this name is configured."""

    code: ClassVar[str] = "oauth_provider_unknown"
    title: ClassVar[str] = "Unknown sign-in provider"


class NextForbiddenError(OAuthBadRequestError):
    """``next`` points outside the allowed origins (an open redirect otherwise)."""

    code: ClassVar[str] = "oauth_next_forbidden"
    title: ClassVar[str] = "Redirect target not allowed"


class StateInvalidError(OAuthBadRequestError):
    """The callback's ``state`` is missing, unknown, used, expired, or not this browser's."""

    code: ClassVar[str] = "oauth_state_invalid"
    title: ClassVar[str] = "Invalid OAuth state"


class ProviderDeniedError(OAuthBadRequestError):
    """The provider came back with an ``error`` (the user refused, a bad request)."""

    code: ClassVar[str] = "oauth_provider_error"
    title: ClassVar[str] = "The provider refused the sign-in"


class CodeInvalidError(OAuthBadRequestError):
    """The provider refused to exchange the authorization code (replayed or expired)."""

    code: ClassVar[str] = "oauth_code_invalid"
    title: ClassVar[str] = "Invalid authorization code"


class IdTokenError(UnauthorizedError):
    """The ID token failed validation (the base; the subclasses say what failed)."""

    code: ClassVar[str] = "oauth_id_token_invalid"
    title: ClassVar[str] = "Invalid ID token"


class IdTokenSignatureError(IdTokenError):
    """Signed by a key the provider does not publish (after refetching its JWKS), or forged."""

    code: ClassVar[str] = "oauth_id_token_signature"
    title: ClassVar[str] = "ID token signature invalid"


class IdTokenAudienceError(IdTokenError):
    """The ID token was issued for another client."""

    code: ClassVar[str] = "oauth_id_token_audience"
    title: ClassVar[str] = "ID token for another client"


class IdTokenIssuerError(IdTokenError):
    """The ID token names another issuer than the provider's."""

    code: ClassVar[str] = "oauth_id_token_issuer"
    title: ClassVar[str] = "ID token from another issuer"


class IdTokenExpiredError(IdTokenError):
    """The ID token's ``exp`` has passed (beyond the clock leeway)."""

    code: ClassVar[str] = "oauth_id_token_expired"
    title: ClassVar[str] = "ID token expired"


class IdTokenNonceError(IdTokenError):
    """The ID token's ``nonce`` is not the one this sign-in sent (a replayed token)."""

    code: ClassVar[str] = "oauth_id_token_nonce"
    title: ClassVar[str] = "ID token nonce mismatch"


class ProviderUnavailableError(UnavailableError):
    """The provider could not be reached or answered garbage (HTTP 503)."""

    code: ClassVar[str] = "oauth_provider_unavailable"
    title: ClassVar[str] = "Sign-in provider unavailable"


class EmailMissingError(InvalidInputError):
    """The provider gave no email address, so no account can be found or made."""

    code: ClassVar[str] = "oauth_email_missing"
    title: ClassVar[str] = "No email address from the provider"


class EmailUnverifiedError(ForbiddenError):
    """The provider does not vouch for the address, so no account is made with it."""

    code: ClassVar[str] = "oauth_email_unverified"
    title: ClassVar[str] = "Email not verified by the provider"


class AccountExistsError(ConflictError):
    """An account has this email: sign in to it and link the provider from there."""

    code: ClassVar[str] = "oauth_account_exists"
    title: ClassVar[str] = "Account exists: sign in and link"


class IdentityTakenError(ConflictError):
    """This provider account is already linked to another user."""

    code: ClassVar[str] = "oauth_identity_taken"
    title: ClassVar[str] = "Provider account linked to another user"


class ExchangeCodeInvalidError(UnauthorizedError):
    """The one-time code handed to the front end is unknown, used or expired."""

    code: ClassVar[str] = "oauth_exchange_code_invalid"
    title: ClassVar[str] = "Invalid sign-in code"


class IdentityNotFoundError(NotFoundError):
    """You have no linked identity with this id."""

    code: ClassVar[str] = "oauth_identity_not_found"
    title: ClassVar[str] = "Identity not found"


class LastSignInMethodError(ConflictError):
    """Unlinking would leave the account without a way in (no password, no other identity)."""

    code: ClassVar[str] = "oauth_last_sign_in_method"
    title: ClassVar[str] = "Only way to sign in"
