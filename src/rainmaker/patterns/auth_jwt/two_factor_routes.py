"""HTTP routes of two-factor authentication, mounted with the account routes when
``two_factor.enabled`` (see :mod:`rainmaker.patterns.auth_jwt.two_factor` for the flow).

=========================================  ==========================================
``POST /login/2fa``                         challenge token + TOTP or recovery code → tokens
``GET /2fa`` (bearer)                       whether 2FA is on, pending, codes left
``POST /2fa/enrol`` (201)                   new pending secret + ``otpauth://`` URI
``POST /2fa/confirm``                       first code → active, ten recovery codes
``POST /2fa/recovery-codes`` (bearer)       a code → ten new recovery codes
``POST /2fa/disable`` (204, bearer)         password + code → off
=========================================  ==========================================

``/2fa/enrol`` and ``/2fa/confirm`` take a bearer access token, or, for a user whom
``required_roles`` sends to enrol at login, the ``challenge_token`` of that login answer
in the body; confirming through a challenge also answers the session's tokens.

No ``from __future__ import annotations``: FastAPI reads the guards from the endpoints'
``Annotated`` parameters at runtime.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Security
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rainmaker.capabilities.auth import User
from rainmaker.http import AuthGuards, bearer_scheme, responses
from rainmaker.patterns.auth_jwt.errors import (
    AccountDisabledError,
    InvalidCredentialsError,
    InvalidTokenError,
    InvalidTwoFactorCodeError,
    TwoFactorAlreadyEnabledError,
    TwoFactorCodeReusedError,
    TwoFactorNotEnrolledError,
    TwoFactorRequiredError,
)
from rainmaker.patterns.auth_jwt.service import JwtAuth
from rainmaker.patterns.auth_jwt.tokens import MAX_TOKEN_LENGTH
from rainmaker.patterns.auth_jwt.two_factor import TwoFactor, completed_amr
from rainmaker.patterns.auth_jwt.users import UserRecord

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_CODE_FIELD = 64
MAX_PASSWORD_FIELD = 4096


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecondFactor(_Body):
    """A TOTP code from the authenticator app, or one recovery code (exactly one)."""

    code: str | None = Field(None, min_length=1, max_length=MAX_CODE_FIELD, examples=["123456"])
    recovery_code: str | None = Field(
        None, min_length=1, max_length=MAX_CODE_FIELD, examples=["abcd-efgh-jkmn-pqrs"]
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> "SecondFactor":
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give exactly one of code and recovery_code")
        return self


class LoginSecondFactor(SecondFactor):
    """The challenge token of the login answer and a second factor."""

    challenge_token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


class EnrolRequest(_Body):
    """Empty with a bearer token; the enrolment challenge token otherwise."""

    challenge_token: str | None = Field(None, min_length=1, max_length=MAX_TOKEN_LENGTH)


class ConfirmRequest(EnrolRequest):
    """The first code the authenticator app shows."""

    code: str = Field(min_length=1, max_length=MAX_CODE_FIELD, examples=["123456"])


class CodeRequest(_Body):
    """A current TOTP code."""

    code: str = Field(min_length=1, max_length=MAX_CODE_FIELD)


class DisableRequest(SecondFactor):
    """The password and a second factor."""

    password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)


class EnrolmentAnswer(BaseModel):
    """A pending factor: add ``secret`` (or scan ``otpauth_uri``) in an authenticator app,
    then confirm with its first code."""

    secret: str
    otpauth_uri: str
    confirmed: bool = False


class ConfirmAnswer(BaseModel):
    """The factor is on; the recovery codes are shown this once. With an enrolment
    challenge the session's tokens come too."""

    enabled: bool = True
    recovery_codes: list[str]
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: str | None = None
    expires_in: int | None = None
    refresh_expires_in: int | None = None


class StatusAnswer(BaseModel):
    """Whether two-factor authentication is on for the current user."""

    enabled: bool
    pending: bool
    recovery_codes_left: int


class RecoveryCodesAnswer(BaseModel):
    """Ten new recovery codes; the earlier ones no longer work."""

    recovery_codes: list[str]


class TokenAnswer(BaseModel):
    """A token pair (OAuth 2-style)."""

    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class SecondFactorChallenge(BaseModel):
    """The password was right; finish with ``POST /login/2fa`` and a code."""

    two_factor_required: bool = True
    challenge_token: str
    expires_in: int
    methods: list[str]


class EnrolmentChallenge(BaseModel):
    """The password was right, but a role of the account requires 2FA and none is set up:
    enrol with ``POST /2fa/enrol`` and ``POST /2fa/confirm``, passing this token."""

    two_factor_enrolment_required: bool = True
    challenge_token: str
    expires_in: int


LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A token pair; with two-factor authentication, a challenge instead "
        "(two_factor_required or two_factor_enrolment_required).",
        "model": TokenAnswer | SecondFactorChallenge | EnrolmentChallenge,
    }
}
"""The honest OpenAPI of ``POST /login``: its 200 has three shapes."""


def two_factor_router(service: Callable[[], JwtAuth]) -> APIRouter:
    """The two-factor routes of one ``auth-jwt`` instance (``service`` per request)."""
    router = APIRouter()
    guards = AuthGuards(service)
    optional_bearer = bearer_scheme(optional=True)

    def factor() -> TwoFactor:
        two_factor = service().two_factor
        assert two_factor is not None  # the module mounts these routes only when it is set
        return two_factor

    async def record_of(user_id: str) -> UserRecord:
        record = await service().users.by_id(user_id)
        if record is None:
            raise InvalidTokenError("the account no longer exists", pattern_id=factor().pattern_id)
        return record

    async def enrolling(
        token: str | None, challenge_token: str | None
    ) -> tuple[UserRecord, dict[str, Any] | None]:
        """The user enrolling, and the claims of their login challenge if they came with one."""
        if token is not None:
            user = await service().user_for_token(token)
            return await record_of(user.id), None
        if challenge_token is not None:
            return await factor().open_challenge(challenge_token, "enrol")
        raise InvalidTokenError(
            "send 'Authorization: Bearer <access token>' or the challenge_token of the login "
            "answer",
            pattern_id=factor().pattern_id,
        )

    @router.post(
        "/login/2fa",
        summary="Finish a login with a second factor (TOTP or recovery code)",
        response_model=TokenAnswer,
        responses=responses(
            InvalidTwoFactorCodeError,
            TwoFactorCodeReusedError,
            AccountDisabledError,
            TwoFactorNotEnrolledError,
            429,
        ),
    )
    async def login_second_factor(body: LoginSecondFactor) -> JSONResponse:
        """Finish a login that answered ``two_factor_required``: its challenge token and a
        current TOTP code (each code works once) or one unused recovery code. Wrong codes
        count against the account's limit."""
        pair = await factor().complete(
            body.challenge_token, code=body.code, recovery_code=body.recovery_code
        )
        return JSONResponse(pair.as_dict(), headers=NO_STORE)

    @router.get("/2fa", summary="Two-factor status of the current user")
    async def status(user: Annotated[User, Depends(guards.current_user)]) -> StatusAnswer:
        """Whether two-factor authentication is on, and how many recovery codes are left."""
        return StatusAnswer(**await factor().status(user.id))

    @router.post(
        "/2fa/enrol",
        status_code=201,
        summary="Start enrolling a TOTP authenticator (not active until confirmed)",
        response_model=EnrolmentAnswer,
        responses=responses(InvalidTokenError, AccountDisabledError, TwoFactorAlreadyEnabledError),
    )
    async def enrol(
        token: Annotated[str | None, Security(optional_bearer)],
        body: EnrolRequest | None = None,
    ) -> JSONResponse:
        """Start enrolling: a new TOTP secret and its ``otpauth://`` URI for an
        authenticator app. Nothing changes until ``POST /2fa/confirm`` proves the app holds
        it. With a bearer token for the current user, or with the enrolment challenge token
        of a login whose role requires 2FA."""
        record, _ = await enrolling(token, body.challenge_token if body else None)
        enrolment = await factor().enrol(record)
        return JSONResponse(enrolment.as_dict(), status_code=201, headers=NO_STORE)

    @router.post(
        "/2fa/confirm",
        summary="Confirm enrolment with a first code: 2FA on, ten recovery codes",
        response_model=ConfirmAnswer,
        response_model_exclude_none=True,
        responses=responses(
            InvalidTwoFactorCodeError, TwoFactorCodeReusedError, TwoFactorNotEnrolledError, 429
        ),
    )
    async def confirm(
        body: ConfirmRequest, token: Annotated[str | None, Security(optional_bearer)]
    ) -> JSONResponse:
        """Turn two-factor authentication on with the first code the app shows; the answer
        carries ten recovery codes, shown this once. Enrolling from a login challenge also
        finishes that login (a token pair)."""
        record, challenge = await enrolling(token, body.challenge_token)
        two_factor = factor()
        codes = await two_factor.confirm(record, body.code)
        answer: dict[str, Any] = {"enabled": True, "recovery_codes": codes}
        if challenge is not None:
            # The enrolment completes the login it interrupted, once.
            await two_factor.spend_challenge(challenge)
            pair = await service()._new_session(record, amr=completed_amr(challenge))
            answer.update(pair.as_dict())
        return JSONResponse(answer, headers=NO_STORE)

    @router.post(
        "/2fa/recovery-codes",
        summary="Replace the recovery codes (needs a current code)",
        response_model=RecoveryCodesAnswer,
        responses=responses(
            InvalidTwoFactorCodeError, TwoFactorCodeReusedError, TwoFactorNotEnrolledError, 429
        ),
    )
    async def recovery_codes(
        body: CodeRequest, user: Annotated[User, Depends(guards.current_user)]
    ) -> JSONResponse:
        """Ten new recovery codes for a current TOTP code; the earlier ones stop working."""
        two_factor = factor()
        await two_factor.verify(user.id, code=body.code, recovery_code=None)
        codes = await two_factor.new_recovery_codes(user.id)
        return JSONResponse({"recovery_codes": codes}, headers=NO_STORE)

    @router.post(
        "/2fa/disable",
        status_code=204,
        summary="Turn two-factor authentication off",
        responses=responses(
            InvalidCredentialsError,
            InvalidTwoFactorCodeError,
            TwoFactorRequiredError,
            TwoFactorNotEnrolledError,
            429,
        ),
    )
    async def disable(
        body: DisableRequest, user: Annotated[User, Depends(guards.current_user)]
    ) -> Response:
        """Turn two-factor authentication off with the password and a current code (or a
        recovery code). Refused while a role of the account requires it."""
        await factor().disable(
            await record_of(user.id),
            body.password,
            code=body.code,
            recovery_code=body.recovery_code,
        )
        return Response(status_code=204)

    return router
