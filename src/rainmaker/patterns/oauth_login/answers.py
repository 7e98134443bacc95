"""The bodies a finished provider sign-in answers, as models: what the OpenAPI declares.

``Auth.sign_in`` answers the token pair or a second-factor challenge, the same three shapes
as ``POST /auth/login``; the routes answer ready-made JSON and these describe it, so a
generated client parses every shape. Names differ from ``auth-jwt``'s so the two sets of
components never collide in one document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SignInTokens(BaseModel):
    """The session's token pair (OAuth 2-style)."""

    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class SignInSecondFactorRequired(BaseModel):
    """The provider signed the user in, and the account has a second factor: finish with
    ``POST /auth/login/2fa`` and a code."""

    two_factor_required: bool = True
    challenge_token: str
    expires_in: int
    methods: list[str]


class SignInEnrolmentRequired(BaseModel):
    """The provider signed the user in, but a role of the account requires a second factor
    and none is set up: enrol with ``POST /auth/2fa/enrol`` and ``POST /auth/2fa/confirm``,
    passing this token."""

    two_factor_enrolment_required: bool = True
    challenge_token: str
    expires_in: int


SIGN_IN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A token pair; when the account's policy asks for a second factor, "
        "a challenge instead (two_factor_required or two_factor_enrolment_required).",
        "model": SignInTokens | SignInSecondFactorRequired | SignInEnrolmentRequired,
    }
}
"""The honest OpenAPI of a sign-in's 200: three shapes."""
