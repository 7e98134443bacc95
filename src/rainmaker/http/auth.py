"""Route guards served by whichever pattern provides ``Auth``: users, identities, roles, scopes.

The dependencies use only the :class:`~rainmaker.capabilities.auth.Authenticator`
interface (``verify_token``, ``user_for_token``), resolved through the ``Auth`` provider of
the instance that owns the route, so any Auth pattern serves them:

- ``CurrentUser`` — ``Annotated[User, …]``: the account the bearer token belongs to, read
  from the provider (refuses disabled accounts and tokens older than a password change);
- ``OptionalUser`` — ``Annotated[User | None, …]``: the same, or ``None`` without an
  ``Authorization`` header (a malformed header or a bad token is still a 401);
- ``Identity`` — ``Annotated[auth.Identity, …]``: the verified token's claims, no
  account read;
- ``require_roles(*roles)`` / ``require_scopes(*scopes)`` — an identity holding at least
  one of ``roles`` / every one of ``scopes``, else 403.

All are built on one ``fastapi.security`` bearer scheme, so ``rainmaker routes`` and the
OpenAPI document show the routes as authenticated (``optional`` for ``OptionalUser``).

Other credentials (API keys): the scheme reads ``Authorization: Bearer <credential>`` or,
without that header, ``X-API-Key: <credential>``. A credential that starts with a prefix
of the composed :data:`~rainmaker.capabilities.credentials.Credentials` provider is
verified by it (once per request: the grant is kept in the request's state) instead of by
``Auth``; its identity and user then pass through the same guards, so routes need no
change. :func:`request_identity` answers the same identity without refusing anything (the
``rate-limit`` pattern keys per-user policies with it).

:class:`AuthGuards` and :func:`auth_guards` are the earlier, closure-style guards (bound to
a resolver callback); providers still expose them as ``Authenticator.current_user`` etc.

This module does not use ``from __future__ import annotations``: FastAPI reads the
annotations of the dependencies below at runtime, and some name local variables.
"""

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeAlias

from fastapi import Depends, Security
from fastapi.security import HTTPBearer
from starlette.requests import HTTPConnection

from rainmaker.capabilities.auth import (
    Auth,
    Authenticator,
    InsufficientPermissionError,
    MissingCredentialsError,
    User,
)
from rainmaker.capabilities.auth import Identity as TokenIdentity
from rainmaker.capabilities.credentials import API_KEY_HEADER, CredentialGrant, Credentials
from rainmaker.http.inject import Injection, mark
from rainmaker.http.owners import RouteOwner, owner_for
from rainmaker.http.responses import raises
from rainmaker.kernel.errors import ForbiddenError, UnauthorizedError
from rainmaker.kernel.registry import Services


@raises(UnauthorizedError)
class BearerToken(HTTPBearer):
    """``Authorization: Bearer <token>`` (or ``X-API-Key: <key>`` without it), answered as
    the raw credential (not a model).

    Unlike FastAPI's own scheme, a missing or malformed header is a
    :class:`MissingCredentialsError` (401 problem+json saying what was wrong). With
    ``auto_error=False`` a *missing* header gives ``None``; a malformed one is still
    refused, since the client meant to authenticate.
    """

    async def __call__(self, request: HTTPConnection) -> str | None:  # type: ignore[override]
        header = request.headers.get("authorization")
        if not header:
            api_key = request.headers.get(API_KEY_HEADER)
            if api_key:  # checked like a bearer token by whichever verifier claims it
                return api_key.strip()
            if not self.auto_error:
                return None
            raise MissingCredentialsError(
                "this route needs an access token: send 'Authorization: Bearer <token>'"
            )
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise MissingCredentialsError(
                "the Authorization header must be 'Bearer <token>' (one space, then the "
                "access token)"
            )
        return token


@functools.cache
def bearer_scheme(*, optional: bool = False) -> BearerToken:
    """The shared bearer scheme (one OpenAPI security scheme, ``BearerToken``, for all)."""
    return BearerToken(
        bearerFormat="JWT",
        scheme_name="BearerToken",
        description="An access token from POST /auth/login or /auth/refresh, or an API key "
        "(also accepted as X-API-Key).",
        auto_error=not optional,
    )


GRANT_STATE_KEY = "rainmaker.credential_grant"
"""Where a request's verified :class:`CredentialGrant` is kept (``scope["state"]``)."""


async def _grant(
    owner: RouteOwner, connection: HTTPConnection, token: str
) -> CredentialGrant | None:
    """The ``Credentials`` provider's grant when it claims ``token``, else ``None``."""
    verifier = owner.get(Credentials)
    if verifier is None or not token.startswith(verifier.prefixes):
        return None
    state = connection.scope.get("state")
    cached = state.get(GRANT_STATE_KEY) if state is not None else None
    if cached is not None and cached[0] == token:
        grant: CredentialGrant = cached[1]
        return grant
    client = connection.client.host if connection.client is not None else None
    grant = await verifier.authenticate(token, client=client)
    if state is not None:
        state[GRANT_STATE_KEY] = (token, grant)
    return grant


def _auth_of(owner: RouteOwner) -> Authenticator:
    return owner.require(Auth)


async def _identity(
    connection: HTTPConnection, token: Annotated[str, Security(bearer_scheme())]
) -> TokenIdentity:
    owner = owner_for(connection.scope)
    grant = await _grant(owner, connection, token)
    if grant is not None:
        return grant.identity
    return await _auth_of(owner).verify_token(token)


async def _user(connection: HTTPConnection, token: str) -> User:
    owner = owner_for(connection.scope)
    grant = await _grant(owner, connection, token)
    if grant is not None:
        return grant.user
    return await _auth_of(owner).user_for_token(token)


async def _current_user(
    connection: HTTPConnection, token: Annotated[str, Security(bearer_scheme())]
) -> User:
    return await _user(connection, token)


async def _optional_user(
    connection: HTTPConnection,
    token: Annotated[str | None, Security(bearer_scheme(optional=True))],
) -> User | None:
    if token is None:
        return None
    return await _user(connection, token)


async def request_identity(connection: HTTPConnection) -> TokenIdentity | None:
    """The identity the request's credential acts as, or ``None`` — never a refusal.

    Reads the credential as the guards do (bearer token, else ``X-API-Key``) and verifies
    it the same way (a ``Credentials`` grant is shared with them, so it is verified once);
    a missing, malformed or refused credential answers ``None`` and is left to the
    route's own guard. For keying (per-user rate limits), not for authorisation.
    """
    headers = connection.headers
    header = headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
    else:
        token = (headers.get(API_KEY_HEADER) or "").strip()
        if not token:
            return None
    try:
        owner = owner_for(connection.scope)
        grant = await _grant(owner, connection, token)
        if grant is not None:
            return grant.identity
        auth = owner.get(Auth)
        return await auth.verify_token(token) if auth is not None else None
    except (UnauthorizedError, ForbiddenError):
        return None


for _call in (_identity, _current_user, _optional_user):
    mark(_call, Injection(capability=Auth))

CurrentUser: TypeAlias = Annotated[User, Depends(_current_user)]
"""The signed-in account (401 problem+json without a valid token)."""

OptionalUser: TypeAlias = Annotated[User | None, Depends(_optional_user)]
"""The signed-in account, or ``None`` when the request sends no ``Authorization`` header."""

Identity: TypeAlias = Annotated[TokenIdentity, Depends(_identity)]
"""The verified access token's claims (user id, roles, scopes), without an account read."""


@functools.cache
def require_roles(*roles: str) -> Any:
    """A dependency passing identities that hold at least one of ``roles`` (403 otherwise).

    ``dependencies=[require_roles("admin")]``, or ``Annotated[auth.Identity,
    require_roles("admin")]`` to receive the identity too.
    """
    if not roles:
        raise ValueError("require_roles() needs at least one role")
    wanted = " or ".join(repr(role) for role in roles)

    @raises(ForbiddenError)
    async def role_guard(identity: Annotated[TokenIdentity, Depends(_identity)]) -> TokenIdentity:
        if not identity.has_role(*roles):
            raise InsufficientPermissionError(f"this route requires the role {wanted}")
        return identity

    return Depends(role_guard)


@functools.cache
def require_scopes(*scopes: str) -> Any:
    """A dependency passing identities that hold every one of ``scopes`` (403 otherwise)."""
    if not scopes:
        raise ValueError("require_scopes() needs at least one scope")

    @raises(ForbiddenError)
    async def scope_guard(
        identity: Annotated[TokenIdentity, Depends(_identity)],
    ) -> TokenIdentity:
        missing = [scope for scope in scopes if scope not in identity.scopes]
        if missing:
            raise InsufficientPermissionError(
                f"this route requires the scope {', '.join(map(repr, missing))}"
            )
        return identity

    return Depends(scope_guard)


class AuthGuards:
    """Closure-style guards that find their :class:`Authenticator` through ``resolve``.

    ``resolve`` is called per request until it succeeds and its answer is kept, so
    building the guards never needs a started app. Module-level routes use
    ``CurrentUser``/``Identity``/``require_roles`` instead; providers build one of these
    for their ``Authenticator.current_user``-style attributes.
    """

    def __init__(self, resolve: Callable[[], Authenticator]) -> None:
        self._resolve = resolve
        self._auth: Authenticator | None = None
        scheme = bearer_scheme()

        async def identity(token: Annotated[str, Security(scheme)]) -> TokenIdentity:
            auth = self._auth or self._provider()
            return await auth.verify_token(token)

        async def current_user(token: Annotated[str, Security(scheme)]) -> User:
            auth = self._auth or self._provider()
            return await auth.user_for_token(token)

        self.identity: Callable[..., Awaitable[TokenIdentity]] = identity
        self.current_user: Callable[..., Awaitable[User]] = current_user
        self._by_role: dict[tuple[str, ...], Callable[..., Awaitable[TokenIdentity]]] = {}
        self._by_scope: dict[tuple[str, ...], Callable[..., Awaitable[TokenIdentity]]] = {}

    def _provider(self) -> Authenticator:
        self._auth = self._resolve()
        return self._auth

    def require_role(self, *roles: str) -> Callable[..., Awaitable[TokenIdentity]]:
        """A guard passing identities with at least one of ``roles`` (403 otherwise)."""
        if not roles:
            raise ValueError("require_role() needs at least one role")
        key = tuple(roles)
        guard = self._by_role.get(key)
        if guard is None:
            wanted = " or ".join(repr(role) for role in roles)
            base = self.identity

            @raises(ForbiddenError)
            async def role_guard(
                identity: Annotated[TokenIdentity, Depends(base)],
            ) -> TokenIdentity:
                if not identity.has_role(*roles):
                    raise InsufficientPermissionError(f"this route requires the role {wanted}")
                return identity

            guard = self._by_role[key] = role_guard
        return guard

    def require_scope(self, *scopes: str) -> Callable[..., Awaitable[TokenIdentity]]:
        """A guard passing identities holding every one of ``scopes`` (403 otherwise)."""
        if not scopes:
            raise ValueError("require_scope() needs at least one scope")
        key = tuple(scopes)
        guard = self._by_scope.get(key)
        if guard is None:
            base = self.identity

            @raises(ForbiddenError)
            async def scope_guard(
                identity: Annotated[TokenIdentity, Depends(base)],
            ) -> TokenIdentity:
                missing = [scope for scope in scopes if scope not in identity.scopes]
                if missing:
                    raise InsufficientPermissionError(
                        f"this route requires the scope {', '.join(map(repr, missing))}"
                    )
                return identity

            guard = self._by_scope[key] = scope_guard
        return guard


def auth_guards(services: Services) -> AuthGuards:
    """Guards bound to the ``Auth`` provider that ``services`` resolves (looked up lazily)."""
    return AuthGuards(lambda: services.require(Auth))
