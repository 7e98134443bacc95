"""The ``Auth`` capability: users, credentials, tokens and the FastAPI guards other patterns use.

A provider (``auth-jwt``) registers an :class:`Authenticator`. Another pattern protects its
routes with guards, which are FastAPI dependencies built on a ``fastapi.security`` bearer
scheme (so ``rainmaker routes`` and the OpenAPI document show the routes as authenticated)::

    from fastapi import APIRouter, Depends
    from rainmaker.capabilities.auth import Auth, Identity, User, auth_guards

    class BillingModule(Module[BillingSettings]):
        def router(self) -> APIRouter:
            guards = auth_guards(self.ctx.services)   # works before Auth has started
            router = APIRouter()

            @router.get("/invoices")
            async def invoices(user: User = Depends(guards.current_user)) -> ...

            @router.post("/refunds", dependencies=[Depends(guards.require_role("admin"))])
            async def refund() -> ...

When the guard is local (as above) and the module uses ``from __future__ import
annotations``, FastAPI cannot resolve ``Annotated[User, Depends(guards.current_user)]``
written as a string: either leave that import out of the router's module or write the
guard as a default value (``user: User = Depends(guards.current_user)``).

Routers are built while the app is composed, sometimes before any module has started
(``rainmaker routes``), so :func:`auth_guards` looks the provider up on the first request,
not when the route is declared. Once started, ``ctx.services.require(Auth)`` exposes the
same guards as attributes (``auth.current_user``, ``auth.require_role(...)``).

Guards:

- ``identity`` — the verified access token as an :class:`Identity` (signature, expiry,
  issuer, audience, key, revocations known to this process); no database round trip.
- ``current_user`` — the :class:`User` from the database: also refuses disabled users
  and tokens issued before a password change or reset, immediately and in every process.
- ``require_role(*roles)`` — an identity holding at least one of ``roles`` (else 403).
- ``require_scope(*scopes)`` — an identity holding every one of ``scopes`` (else 403).

Roles and scopes in a token are those of the moment it was issued; they follow a change at
the next refresh (within the access token's lifetime).

This module does not use ``from __future__ import annotations`` on purpose: FastAPI reads
the annotations of the scheme defined in :func:`bearer_scheme` at runtime, and that class
imports FastAPI lazily, inside the function, so importing this module stays light.
"""

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import ForbiddenError, UnauthorizedError
from rainmaker.kernel.registry import Services


class MissingCredentialsError(UnauthorizedError):
    """The request carries no usable ``Authorization: Bearer <token>`` header."""

    code: ClassVar[str] = "credentials_missing"
    title: ClassVar[str] = "Authentication required"
    default_headers: ClassVar[Mapping[str, str]] = {"WWW-Authenticate": "Bearer"}  # RFC 6750


class InsufficientPermissionError(ForbiddenError):
    """The token is valid but lacks the role or scope the route requires."""

    code: ClassVar[str] = "insufficient_permission"
    title: ClassVar[str] = "Insufficient permission"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified access token speaks for, from its claims alone.

    ``user_id`` is the ``sub`` claim, ``token_id`` the ``jti``, ``session_id`` the refresh
    token family it came from (``None`` for tokens issued without one), ``issued_at`` and
    ``expires_at`` Unix seconds.
    """

    user_id: str
    roles: frozenset[str]
    scopes: frozenset[str]
    token_id: str
    session_id: str | None
    issued_at: int
    expires_at: int

    def has_role(self, *roles: str) -> bool:
        """Whether this identity holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)

    def has_scopes(self, *scopes: str) -> bool:
        """Whether this identity holds every one of ``scopes``."""
        return self.scopes.issuperset(scopes)


@dataclass(frozen=True)
class User:
    """An account as other patterns see it (never the password hash)."""

    id: str
    email: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    verified: bool
    disabled: bool
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``GET /auth/me`` answers)."""
        return {
            "id": self.id,
            "email": self.email,
            "roles": list(self.roles),
            "scopes": list(self.scopes),
            "verified": self.verified,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh hands out; ``expires_in`` is the access token's lifetime."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    token_type: str = field(default="bearer")

    def as_dict(self) -> dict[str, Any]:
        """The OAuth 2-style JSON body."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
        }


UserCreatedHook = Callable[[User], Awaitable[Callable[[], Awaitable[None]] | None]]
"""A hook run inside the transaction that creates a user (see ``on_user_created``).

It receives the new :class:`User` and may return a *compensation*: an async callable that
undoes work the hook did outside the database (a customer created at a payment provider).
"""


@runtime_checkable
class Authenticator(Protocol):
    """What every ``Auth`` provider implements.

    Errors are :class:`~rainmaker.PatternError` subclasses, so routes answer them as
    problem+json: bad credentials and tokens are 401, missing permissions 403, a refused
    password 422, too many attempts 429 with ``Retry-After``. ``create_user`` inside
    ``async with db.transaction():`` joins that transaction.
    """

    async def create_user(
        self,
        email: str,
        password: str,
        *,
        role: str | Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        verified: bool = False,
    ) -> User:
        """A new account (``role``/``scopes`` default to the provider's defaults)."""
        ...

    def on_user_created(self, hook: UserCreatedHook) -> Callable[[], None]:
        """Run ``hook(user)`` inside the transaction of every user creation.

        The user row and whatever the hook writes through ``db.session()`` commit or roll
        back together. A hook that raises aborts the creation. When the creation fails
        after a hook returned a compensation (a later hook raised, the commit failed), the
        compensations run, newest first. Returns a function that removes the hook.
        """
        ...

    async def authenticate(self, email: str, password: str) -> User:
        """The account whose credentials these are, or ``UnauthorizedError``."""
        ...

    async def issue_tokens(self, user: User) -> TokenPair:
        """A new session (refresh token family) for ``user``."""
        ...

    async def verify_token(self, token: str) -> Identity:
        """The identity of a valid access token, or ``UnauthorizedError`` saying why not."""
        ...

    async def user_for_token(self, token: str) -> User:
        """The current, enabled account of a valid access token (one database read)."""
        ...

    async def get_user(self, user_id: str) -> User | None:
        """The account with this id, if any."""
        ...

    async def get_user_by_email(self, email: str) -> User | None:
        """The account with this (normalised) email, if any."""
        ...

    async def disable_user(self, user_id: str) -> None:
        """Refuse this account's logins and tokens from now on and end its sessions."""
        ...

    async def enable_user(self, user_id: str) -> None:
        """Allow a disabled account again (its old sessions stay ended)."""
        ...

    @property
    def identity(self) -> Callable[..., Awaitable[Identity]]:
        """Guard: the verified token's :class:`Identity`."""
        ...

    @property
    def current_user(self) -> Callable[..., Awaitable[User]]:
        """Guard: the :class:`User` the token belongs to."""
        ...

    def require_role(self, *roles: str) -> Callable[..., Awaitable[Identity]]:
        """Guard: an identity holding at least one of ``roles``."""
        ...

    def require_scope(self, *scopes: str) -> Callable[..., Awaitable[Identity]]:
        """Guard: an identity holding every one of ``scopes``."""
        ...


Auth: Capability[Authenticator] = Capability(
    "Auth",
    Authenticator,
    description="Users, passwords, tokens and route guards (current user, roles, scopes).",
)


@functools.cache
def bearer_scheme() -> Any:
    """The shared ``Authorization: Bearer`` scheme (a ``fastapi.security.HTTPBearer``).

    Unlike FastAPI's own, it answers a missing or malformed header with a
    :class:`MissingCredentialsError` (401 problem+json saying what was wrong) and hands the
    guard the raw token, not a model.
    """
    from fastapi import Request
    from fastapi.security import HTTPBearer

    class BearerToken(HTTPBearer):
        async def __call__(self, request: Request) -> str:  # type: ignore[override]
            header = request.headers.get("authorization")
            if not header:
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

    return BearerToken(
        bearerFormat="JWT",
        scheme_name="BearerToken",
        description="An access token from POST /auth/login or /auth/refresh.",
    )


class AuthGuards:
    """FastAPI dependencies that find their :class:`Authenticator` on first use.

    ``resolve`` returns the provider; it is called per request until it succeeds and its
    answer is kept, so building the guards never needs a started app.
    """

    def __init__(self, resolve: Callable[[], Authenticator]) -> None:
        self._resolve = resolve
        self._auth: Authenticator | None = None
        scheme = bearer_scheme()
        from fastapi import Security

        async def identity(token: Annotated[str, Security(scheme)]) -> Identity:
            auth = self._auth or self._provider()
            return await auth.verify_token(token)

        async def current_user(token: Annotated[str, Security(scheme)]) -> User:
            auth = self._auth or self._provider()
            return await auth.user_for_token(token)

        self.identity: Callable[..., Awaitable[Identity]] = identity
        self.current_user: Callable[..., Awaitable[User]] = current_user
        self._by_role: dict[tuple[str, ...], Callable[..., Awaitable[Identity]]] = {}
        self._by_scope: dict[tuple[str, ...], Callable[..., Awaitable[Identity]]] = {}

    def _provider(self) -> Authenticator:
        self._auth = self._resolve()
        return self._auth

    def require_role(self, *roles: str) -> Callable[..., Awaitable[Identity]]:
        """A guard passing identities with at least one of ``roles`` (403 otherwise)."""
        if not roles:
            raise ValueError("require_role() needs at least one role")
        key = tuple(roles)
        guard = self._by_role.get(key)
        if guard is None:
            from fastapi import Depends

            wanted = " or ".join(repr(role) for role in roles)
            base = self.identity

            async def role_guard(identity: Annotated[Identity, Depends(base)]) -> Identity:
                if not identity.has_role(*roles):
                    raise InsufficientPermissionError(f"this route requires the role {wanted}")
                return identity

            guard = self._by_role[key] = role_guard
        return guard

    def require_scope(self, *scopes: str) -> Callable[..., Awaitable[Identity]]:
        """A guard passing identities holding every one of ``scopes`` (403 otherwise)."""
        if not scopes:
            raise ValueError("require_scope() needs at least one scope")
        key = tuple(scopes)
        guard = self._by_scope.get(key)
        if guard is None:
            from fastapi import Depends

            base = self.identity

            async def scope_guard(identity: Annotated[Identity, Depends(base)]) -> Identity:
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


def token_claims(identity: Identity) -> Mapping[str, Any]:
    """``identity`` as a plain mapping (for logs and audit rows; no secrets in it)."""
    return {
        "sub": identity.user_id,
        "roles": sorted(identity.roles),
        "scopes": sorted(identity.scopes),
        "jti": identity.token_id,
        "sid": identity.session_id,
        "iat": identity.issued_at,
        "exp": identity.expires_at,
    }
