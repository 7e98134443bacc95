"""The HTTP routes of ``oauth-login``, under the instance's mount (``/auth``):

- ``GET /auth/oauth/providers`` — the configured providers (for sign-in buttons);
- ``GET /auth/oauth/{provider}/authorize?next=…`` — redirects to the provider;
- ``GET /auth/oauth/{provider}/callback`` — finishes: with a ``next``, redirects there
  with a one-time ``oauth_code`` (no token in a URL); without, answers the sign-in;
- ``POST /auth/oauth/exchange`` — ``{"code": …}`` → the sign-in's answer, once;
- ``POST /auth/oauth/{provider}/link`` — for a signed-in user: the URL that links it;
- ``GET /auth/identities``, ``DELETE /auth/identities/{id}`` — linked accounts.

A sign-in answers what ``POST /auth/login`` answers after a password: the token pair, or
(when the account has a second factor, or a role requires one) the challenge that
``POST /auth/login/2fa`` or the enrolment routes complete (``Auth.sign_in``).

No ``from __future__ import annotations``: FastAPI reads these annotations at runtime.
"""

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from rainmaker.http import CurrentUser, responses
from rainmaker.patterns.oauth_login.answers import SIGN_IN_RESPONSES
from rainmaker.patterns.oauth_login.errors import (
    AccountExistsError,
    CodeInvalidError,
    EmailMissingError,
    EmailUnverifiedError,
    ExchangeCodeInvalidError,
    IdentityNotFoundError,
    IdentityTakenError,
    IdTokenError,
    LastSignInMethodError,
    NextForbiddenError,
    ProviderDeniedError,
    ProviderUnavailableError,
    ProviderUnknownError,
    StateInvalidError,
)
from rainmaker.patterns.oauth_login.service import OAuthLogin, cookie_name


class ExchangeBody(BaseModel):
    """The body of ``POST /auth/oauth/exchange``."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200, description="The one-time oauth_code.")


class LinkBody(BaseModel):
    """The body of ``POST /auth/oauth/{provider}/link`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    next: str | None = Field(None, max_length=2000, description="Where to come back to.")


def oauth_router(resolve: Callable[[], OAuthLogin]) -> APIRouter:
    """The routes, reading the running service through ``resolve`` (503 when stopped)."""
    router = APIRouter(tags=["oauth-login"])

    @router.get("/oauth/providers", summary="The sign-in providers configured")
    async def providers() -> dict[str, Any]:
        """The providers a front end can offer a button for: name and label."""
        service = resolve()
        return {
            "providers": [
                {"name": name, "label": client.label}
                for name, client in sorted(service.clients.items())
            ]
        }

    @router.get(
        "/oauth/{provider}/authorize",
        status_code=302,
        summary="Start signing in with a provider (redirects there)",
        responses=responses(ProviderUnknownError, NextForbiddenError, ProviderUnavailableError),
    )
    async def authorize(
        provider: str, next: str | None = None, link: str | None = None
    ) -> Response:
        """Redirect to the provider's sign-in page with PKCE, ``state`` and ``nonce``;
        ``next`` (where the front end wants the user back) must be an allowed origin."""
        service = resolve()
        started = await service.start(provider, next_url=next, link_ticket=link)
        answer = RedirectResponse(started.url, status_code=302)
        answer.set_cookie(
            started.cookie_name,
            started.cookie_value,
            max_age=int(service.settings.flow_ttl),
            path=f"{service.mount}/oauth/{provider}/callback",
            secure=service.settings.secure_cookie,
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back
        )
        answer.headers["Cache-Control"] = "no-store"
        return answer

    @router.get(
        "/oauth/{provider}/callback",
        summary="Finish signing in with a provider",
        responses={
            **SIGN_IN_RESPONSES,
            302: {"description": "With a next: back there, with a one-time oauth_code."},
            **responses(
                ProviderUnknownError,
                StateInvalidError,
                ProviderDeniedError,
                CodeInvalidError,
                IdTokenError,
                EmailMissingError,
                EmailUnverifiedError,
                AccountExistsError,
                IdentityTakenError,
                ProviderUnavailableError,
            ),
        },
    )
    async def callback(
        provider: str,
        request: Request,
        state: str | None = None,
        code: str | None = None,
        error: str | None = None,
    ) -> Response:
        """Where the provider sends the user back: the code is exchanged and the ID token
        checked (signature against the provider's keys, issuer, audience, expiry, nonce).
        With a ``next``: a redirect there with a one-time ``oauth_code``; else the sign-in
        answer itself. A new address makes an account through ``Auth``; an existing
        account is never linked by the provider's word alone (409)."""
        service = resolve()
        finished = await service.finish(
            provider, state=state, code=code, error=error, cookies=dict(request.cookies)
        )
        answer: Response
        if finished.redirect is not None:
            answer = RedirectResponse(finished.redirect, status_code=302)
        else:
            assert finished.answer is not None
            answer = JSONResponse(finished.answer.as_dict())
        if state:
            answer.delete_cookie(
                cookie_name(state), path=f"{service.mount}/oauth/{provider}/callback"
            )
        answer.headers["Cache-Control"] = "no-store"
        return answer

    @router.post(
        "/oauth/exchange",
        summary="Trade a one-time sign-in code for the tokens (or a second-factor challenge)",
        responses={**SIGN_IN_RESPONSES, **responses(ExchangeCodeInvalidError)},
    )
    async def exchange(body: ExchangeBody) -> JSONResponse:
        """Trade the one-time ``oauth_code`` for the token pair, or for a second-factor
        challenge when the account uses two-factor authentication; a code works once."""
        answer = await resolve().exchange(body.code)
        return JSONResponse(answer.as_dict(), headers={"Cache-Control": "no-store"})

    @router.post(
        "/oauth/{provider}/link",
        summary="The URL that links a provider to you",
        responses=responses(ProviderUnknownError, NextForbiddenError),
    )
    async def link(
        provider: str, user: CurrentUser, body: LinkBody | None = None
    ) -> dict[str, str]:
        """An authorize URL that links the provider to the signed-in account when the user
        finishes there (how an existing account gains a provider)."""
        url = await resolve().link_ticket(user, provider, body.next if body else None)
        return {"authorize_url": url}

    @router.get("/identities", summary="Your linked sign-in providers")
    async def identities(user: CurrentUser) -> dict[str, Any]:
        """The providers linked to the signed-in account."""
        found = await resolve().list_identities(user)
        return {"identities": [identity.as_dict() for identity in found]}

    @router.delete(
        "/identities/{identity_id}",
        status_code=204,
        summary="Unlink a provider (refused if it is your only way in)",
        responses=responses(IdentityNotFoundError, LastSignInMethodError),
    )
    async def unlink(identity_id: str, user: CurrentUser) -> Response:
        """Unlink a provider; refused (409) when it is the account's only way in (no
        password and no other provider)."""
        await resolve().unlink(user, identity_id)
        return Response(status_code=204)

    return router
