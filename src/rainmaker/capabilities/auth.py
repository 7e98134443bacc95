"""The ``Auth`` capability: users, credentials, tokens, and the errors its guards raise.

A provider (``auth-jwt``) registers an :class:`Authenticator`. Routes are protected with
the dependencies of :mod:`rainmaker.http`, which any Auth provider serves::

    from rainmaker.http import CurrentUser, require_roles

    @router.get("/invoices")
    async def invoices(user: CurrentUser) -> ...

    @router.post("/refunds", dependencies=[require_roles("admin")])
    async def refund() -> ...

Those are module-level, so they work with ``from __future__ import annotations``.

Roles and scopes in a token are those of the moment it was issued; they follow a change at
the next refresh (within the access token's lifetime).

This module stays free of FastAPI: ``bearer_scheme``, ``AuthGuards`` and ``auth_guards``
moved to :mod:`rainmaker.http`. The old names still import from here, with a
``DeprecationWarning``, until the next minor release.
"""

import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import ForbiddenError, UnauthorizedError


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
    amr: frozenset[str] = frozenset()
    """How the user proved who they are (RFC 8176 ``amr``: ``pwd``, ``otp``…); empty when
    the credential does not say (API keys, tokens issued without a login)."""

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


@dataclass(frozen=True)
class SignInChallenge:
    """What a sign-in answers instead of tokens when the account's policy asks for more.

    ``step="verify"``: a second factor is enrolled; the provider's completion route (for
    ``auth-jwt``, ``POST /auth/login/2fa``) trades ``token`` and a code for the pair.
    ``step="enrol"``: a role of the account requires a second factor and none is set up;
    ``token`` opens only the enrolment routes, and confirming through it completes the
    sign-in. ``token`` lives ``expires_in`` seconds and works for one completed sign-in.
    """

    step: Literal["verify", "enrol"]
    token: str
    expires_in: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON body a sign-in route answers (the same as ``POST /auth/login``'s)."""
        if self.step == "verify":
            return {
                "two_factor_required": True,
                "challenge_token": self.token,
                "expires_in": self.expires_in,
                "methods": ["totp", "recovery_code"],
            }
        return {
            "two_factor_enrolment_required": True,
            "challenge_token": self.token,
            "expires_in": self.expires_in,
        }


SignInAnswer = TokenPair | SignInChallenge
"""What :meth:`Authenticator.sign_in` answers: the session's tokens, or a challenge."""


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
        password: str | None,
        *,
        role: str | Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        verified: bool = False,
    ) -> User:
        """A new account (``role``/``scopes`` default to the provider's defaults).

        ``password=None``: an account with no usable password (signed in through another
        method, such as ``oauth-login``); the same hooks run as for any other signup.
        """
        ...

    async def has_password(self, user_id: str) -> bool:
        """Whether the account can sign in with a password (``False`` for an unknown id)."""
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

    async def sign_in(self, user: User, *, method: str) -> SignInAnswer:
        """Finish a sign-in whose first factor ``method`` another pattern checked.

        ``method`` is the ``amr`` value of that factor (``oauth-login`` says ``"oidc"``,
        or ``"oauth"`` for a provider without OpenID Connect). The account's policy applies
        exactly as after a password login: a disabled account is refused, an enrolled
        second factor or a role that requires one answers a :class:`SignInChallenge`,
        otherwise the new session's :class:`TokenPair`. Tokens record ``method`` in their
        ``amr``, followed by the second factor once one completed it (``["oidc", "otp"]``).
        """
        ...

    async def issue_tokens(self, user: User) -> TokenPair:
        """A new session (refresh token family) for ``user``, with **no** sign-in policy.

        No second factor is asked for and the tokens carry an empty ``amr``: for callers
        that mean it (tests, impersonation by an operator, a session handed over after a
        check of their own). A sign-in after a first factor calls :meth:`sign_in`.
        """
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
    # 1.1: create_user(password=None) and has_password(), for sign-in without a password.
    # 1.2: sign_in(user, method=...), the sign-in policy after another first factor.
    version="1.2",
    description="Users, passwords, tokens and route guards (current user, roles, scopes).",
)


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


# Names that moved to rainmaker.http; importing them from here warns until 0.2.
_MOVED = frozenset({"AuthGuards", "auth_guards", "bearer_scheme"})


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"rainmaker.capabilities.auth.{name} moved to rainmaker.http.{name}; the old "
            "name goes away in the next minor release (module-level routes use "
            "rainmaker.http.CurrentUser, Identity and require_roles instead)",
            DeprecationWarning,
            stacklevel=2,
        )
        import rainmaker.http

        return getattr(rainmaker.http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
