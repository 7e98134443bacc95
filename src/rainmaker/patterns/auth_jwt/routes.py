"""HTTP routes of ``auth-jwt``, mounted under the instance's prefix (default ``/auth``).

=========================================  ==========================================
``POST /register`` (201, or 202)            create an account, email a verification
``POST /login``                             email + password → tokens, or a 2FA challenge
``POST /refresh``                           spend a refresh token → the next pair
``POST /logout`` (204, bearer)              end the session, revoke the access token
``GET /me`` (bearer)                        the current user
``POST /password`` (bearer)                 change the password → a new pair
``POST /password-reset`` (202)              email a reset token (same answer for any email)
``POST /password-reset/confirm`` (204)      set a new password with the emailed token
``POST /verify``                            confirm the email address with its token
``POST /verify/resend`` (202)               email a new verification token (one answer for all)
``GET /.well-known/jwks.json``              public keys (only with RS256/ES256/EdDSA keys)
=========================================  ==========================================

With ``uniform_register_answer`` (on by default in production) ``/register`` answers 202
with one body for a new and a taken address. Bodies are JSON; every error is problem+json
through the HTTP pattern. Fields have upper length bounds, so a megabyte password is
refused by validation (422) before anything hashes it. Token answers carry
``Cache-Control: no-store``.

No ``from __future__ import annotations`` here: FastAPI reads the guards from the
endpoints' ``Annotated`` parameters at runtime, and the guards are local to
:func:`auth_router`.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from rainmaker.capabilities.auth import Identity, User
from rainmaker.http import AuthGuards, responses
from rainmaker.patterns.auth_jwt.answers import MessageAnswer, UserAnswer
from rainmaker.patterns.auth_jwt.dependencies import client_address
from rainmaker.patterns.auth_jwt.errors import (
    AccountDisabledError,
    EmailTakenError,
    InvalidTokenError,
    RegistrationClosedError,
)
from rainmaker.patterns.auth_jwt.keys import KeyRing
from rainmaker.patterns.auth_jwt.service import JwtAuth
from rainmaker.patterns.auth_jwt.tokens import MAX_TOKEN_LENGTH
from rainmaker.patterns.auth_jwt.two_factor_routes import LOGIN_RESPONSES, TokenAnswer

# Far above any sensible password, far below what could flood the hasher; the policy's
# own max_length (default 256) applies after this.
MAX_PASSWORD_FIELD = 4096
MAX_EMAIL_FIELD = 320
# The document states what the server checks (an address, 254 characters at most), so a
# client generated from it (or a fuzzer) sends what is accepted; 320 still bounds input.
EMAIL_SCHEMA: dict[str, Any] = {"format": "email", "maxLength": 254}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Credentials(_Body):
    """Email and password."""

    email: str = Field(
        min_length=3,
        max_length=MAX_EMAIL_FIELD,
        examples=["ada@example.com"],
        json_schema_extra=EMAIL_SCHEMA,
    )
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)


class RefreshRequest(_Body):
    """A refresh token from /login or an earlier /refresh."""

    refresh_token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


class PasswordChange(_Body):
    """The current password and the new one."""

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)


class ResetRequest(_Body):
    """The email address of the account to reset."""

    email: str = Field(min_length=3, max_length=MAX_EMAIL_FIELD, json_schema_extra=EMAIL_SCHEMA)


class ResetConfirm(_Body):
    """The emailed reset token and the new password."""

    token: str = Field(min_length=1, max_length=512)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_FIELD)


class ResendRequest(_Body):
    """The email address of the account still to be verified."""

    email: str = Field(min_length=3, max_length=MAX_EMAIL_FIELD, json_schema_extra=EMAIL_SCHEMA)


class VerifyRequest(_Body):
    """The emailed verification token."""

    token: str = Field(min_length=1, max_length=512)


REGISTER_ANSWER = (
    "Check your inbox: a message to this address says how to go on (confirm a new "
    "account, or log in to the one it already has)."
)
RESET_ANSWER = "If an account uses this email address, a message with a reset link is on its way."
RESEND_ANSWER = (
    "If an account uses this email address and is not verified yet, a message with a new "
    "verification link is on its way."
)


def auth_router(service: Callable[[], JwtAuth], ring: KeyRing) -> APIRouter:
    """The routes of one ``auth-jwt`` instance; ``service`` is looked up per request,
    since the HTTP pattern may compose routers before this instance has started."""
    router = APIRouter()
    guards = AuthGuards(service)

    def tokens(body: dict[str, Any], status: int = 200) -> JSONResponse:
        return JSONResponse(body, status_code=status, headers=NO_STORE)

    @router.post(
        "/register",
        status_code=201,
        summary="Create an account",
        response_model=UserAnswer,
        responses={
            202: {
                "description": REGISTER_ANSWER + " (uniform_register_answer)",
                "model": MessageAnswer,
            },
            **responses(EmailTakenError, RegistrationClosedError, 429),
        },
    )
    async def register(body: Credentials, request: Request) -> JSONResponse:
        """Create an account with an email address and a password the password policy
        accepts (length, not a common password). The account starts unverified and a
        verification email is sent. 409 when the address is taken, unless
        ``uniform_register_answer`` is on: then every request gets the same 202 and the
        address's owner is told by email instead. Attempts are limited per client address.
        """
        auth = service()
        user = await auth.register(body.email, body.password, client=client_address(request))
        if auth.uniform_register:
            # One answer for a new and a taken address: the account (or the owner's
            # notice) is in the email, so the answer tells nobody who is registered.
            return JSONResponse({"detail": REGISTER_ANSWER}, status_code=202)
        assert user is not None  # without uniform answers a taken address raised a 409
        return JSONResponse(user.as_dict(), status_code=201)

    @router.post(
        "/login",
        summary="Log in: email and password for a token pair (or a second-factor challenge)",
        responses={**LOGIN_RESPONSES, **responses(401, 403, 429)},
    )
    async def login(body: Credentials, request: Request) -> JSONResponse:
        """Exchange email and password for an access token and a refresh token. An account
        with two-factor authentication answers ``two_factor_required`` and a challenge
        token instead (finish with ``POST /login/2fa``). Wrong credentials are 401 with one
        message for a wrong password and an unknown address; attempts are limited per
        account and per client address (429 with ``Retry-After``).
        """
        pair = await service().login(body.email, body.password, client=client_address(request))
        return tokens(pair.as_dict())

    @router.post(
        "/refresh",
        summary="Spend a refresh token for the next token pair",
        response_model=TokenAnswer,
        responses=responses(InvalidTokenError, AccountDisabledError),
    )
    async def refresh(body: RefreshRequest) -> JSONResponse:
        """Spend a refresh token for a new token pair (rotation). A refresh token works
        once: presenting a spent one ends its whole session family (reuse detection), and
        a family ends at its absolute lifetime whatever the rotations.
        """
        pair = await service().refresh(body.refresh_token)
        return tokens(pair.as_dict())

    @router.post("/logout", status_code=204, summary="End this session")
    async def logout(identity: Annotated[Identity, Depends(guards.identity)]) -> Response:
        """End the session of this access token: its refresh family stops working."""
        await service().logout(identity)
        return Response(status_code=204)

    @router.get("/me", summary="The current user", response_model=UserAnswer)
    async def me(user: Annotated[User, Depends(guards.current_user)]) -> dict[str, Any]:
        """The account the access token belongs to, read from the database now."""
        return user.as_dict()

    @router.post(
        "/password",
        summary="Change the password (ends every other session)",
        response_model=TokenAnswer,
    )
    async def change_password(
        body: PasswordChange, user: Annotated[User, Depends(guards.current_user)]
    ) -> JSONResponse:
        """Change the password after checking the current one (attempts limited per
        account). Every other session ends; the answer is this session's new token pair."""
        pair = await service().change_password(user.id, body.current_password, body.new_password)
        return tokens(pair.as_dict())

    @router.post(
        "/password-reset",
        status_code=202,
        summary="Email a password-reset token",
        response_model=MessageAnswer,
        responses=responses(429),
    )
    async def password_reset(body: ResetRequest, request: Request) -> JSONResponse:
        """Email a single-use reset token to the address, if an account uses it. The answer
        is the same whether or not it does, so it reveals no account."""
        await service().request_password_reset(body.email, client=client_address(request))
        return JSONResponse({"detail": RESET_ANSWER}, status_code=202)

    @router.post(
        "/password-reset/confirm",
        status_code=204,
        summary="Set a new password with a reset token",
        responses=responses(429),
    )
    async def password_reset_confirm(body: ResetConfirm, request: Request) -> Response:
        """Set a new password with an emailed reset token; every session of the account
        ends. A token is spent by its use and by any change of the credentials."""
        await service().confirm_password_reset(
            body.token, body.new_password, client=client_address(request)
        )
        return Response(status_code=204)

    @router.post(
        "/verify",
        summary="Confirm the email address with its token",
        response_model=UserAnswer,
        responses=responses(429),
    )
    async def verify(body: VerifyRequest, request: Request) -> dict[str, Any]:
        """Mark the email address verified with the token the verification email carried."""
        user = await service().verify_email(body.token, client=client_address(request))
        return user.as_dict()

    @router.post(
        "/verify/resend",
        status_code=202,
        summary="Email a new verification token",
        response_model=MessageAnswer,
        responses=responses(429),
    )
    async def verify_resend(body: ResendRequest, request: Request) -> JSONResponse:
        """Email a new verification token to an unverified account at this address; the
        answer is the same for unknown and verified addresses."""
        # One answer whether the address is unknown, unverified or already verified.
        await service().resend_verification(body.email, client=client_address(request))
        return JSONResponse({"detail": RESEND_ANSWER}, status_code=202)

    if ring.asymmetric:
        jwks = ring.jwks()

        @router.get("/.well-known/jwks.json", summary="Public signing keys (JWKS)")
        async def jwks_route() -> JSONResponse:
            """The public keys access tokens are signed with (RS/ES/EdDSA only), for other
            services that verify them."""
            return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})

    return router
