"""Errors of the ``auth-jwt`` pattern, each with a stable code and its HTTP status.

Messages say what is wrong with the *request* and never whether an email address has an
account: a wrong password and an unknown email give the same :class:`InvalidCredentialsError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rainmaker import ConflictError, ForbiddenError, InvalidInputError, UnauthorizedError


class InvalidCredentialsError(UnauthorizedError):
    """Email and password do not match an account (or the account does not exist)."""

    code: ClassVar[str] = "invalid_credentials"
    title: ClassVar[str] = "Invalid credentials"


class InvalidTokenError(UnauthorizedError):
    """A token is malformed, forged, of the wrong type, issuer or audience, or revoked."""

    code: ClassVar[str] = "invalid_token"
    title: ClassVar[str] = "Invalid token"
    default_headers: ClassVar[Mapping[str, str]] = {
        "WWW-Authenticate": 'Bearer error="invalid_token"'  # RFC 6750
    }


class TokenExpiredError(InvalidTokenError):
    """A token's ``exp`` has passed (beyond the leeway)."""

    code: ClassVar[str] = "token_expired"
    title: ClassVar[str] = "Token expired"


class TokenReusedError(InvalidTokenError):
    """A refresh token was presented after it had been used: its whole family is revoked."""

    code: ClassVar[str] = "refresh_token_reused"
    title: ClassVar[str] = "Refresh token reused"


class AccountDisabledError(ForbiddenError):
    """The account is disabled: it may not log in, and its tokens are refused."""

    code: ClassVar[str] = "account_disabled"
    title: ClassVar[str] = "Account disabled"


class EmailNotVerifiedError(ForbiddenError):
    """Login needs a verified email address (``require_verified_email``)."""

    code: ClassVar[str] = "email_not_verified"
    title: ClassVar[str] = "Email not verified"


class PasswordRejectedError(InvalidInputError):
    """A new password breaks the policy (length, common password, contains the email)."""

    code: ClassVar[str] = "password_rejected"
    title: ClassVar[str] = "Password rejected"


class InvalidEmailError(InvalidInputError):
    """An email address that cannot be an account's address."""

    code: ClassVar[str] = "invalid_email"
    title: ClassVar[str] = "Invalid email address"


class EmailTakenError(ConflictError):
    """Another account already uses this email address."""

    code: ClassVar[str] = "email_taken"
    title: ClassVar[str] = "Email already registered"


class InvalidOneTimeTokenError(InvalidInputError):
    """A verification or reset token that is unknown, expired or already used."""

    code: ClassVar[str] = "invalid_one_time_token"
    title: ClassVar[str] = "Invalid or expired link"


class RegistrationClosedError(ForbiddenError):
    """Self-registration is turned off (``allow_registration = false``)."""

    code: ClassVar[str] = "registration_closed"
    title: ClassVar[str] = "Registration closed"


class InvalidTwoFactorCodeError(UnauthorizedError):
    """A TOTP or recovery code that does not match (counted by the two-factor limit)."""

    code: ClassVar[str] = "invalid_two_factor_code"
    title: ClassVar[str] = "Invalid two-factor code"


class TwoFactorCodeReusedError(UnauthorizedError):
    """A TOTP code of a time step already used, or a spent recovery code (no replay)."""

    code: ClassVar[str] = "two_factor_code_reused"
    title: ClassVar[str] = "Two-factor code already used"


class TwoFactorNotEnrolledError(ConflictError):
    """Confirming or disabling two-factor authentication that was never set up."""

    code: ClassVar[str] = "two_factor_not_enrolled"
    title: ClassVar[str] = "Two-factor authentication not set up"


class TwoFactorAlreadyEnabledError(ConflictError):
    """Enrolling again while a confirmed second factor is active (disable it first)."""

    code: ClassVar[str] = "two_factor_already_enabled"
    title: ClassVar[str] = "Two-factor authentication already enabled"


class TwoFactorRequiredError(ForbiddenError):
    """A role of the account requires two-factor authentication (``required_roles``):
    it cannot be disabled, and the enrolment token allows nothing but enrolling."""

    code: ClassVar[str] = "two_factor_required"
    title: ClassVar[str] = "Two-factor authentication required"

