"""The ``ApiKeys`` capability: personal API keys, shown once, stored as a hash.

A provider (``api-keys``) registers an :class:`ApiKeyStore` and, for
:mod:`rainmaker.http`, a ``Credentials`` verifier (see
:mod:`rainmaker.capabilities.credentials`): ``Authorization: Bearer rk_live_…`` or
``X-API-Key: rk_live_…`` then authenticates as the key's owner, with the key's scopes,
through the same ``CurrentUser`` / ``require_scopes`` dependencies as an access token.

A key is ``<prefix><lookup>_<secret>`` (``rk_live_3f9a0c1b2d4e_…``): the public part up to
the lookup id is stored and shown (``ApiKey.prefix``) to tell keys apart; the whole key
is stored only as a SHA-256 digest (keys are random, so a slow password hash would buy
nothing and cost every request).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)

MANAGE_SCOPE = "api-keys:manage"
"""The scope a key needs to list, create, rotate or revoke keys (keys hold no other power
over keys)."""


@dataclass(frozen=True)
class ApiKey:
    """One key as every provider hands it out (never the secret, never its hash)."""

    id: str
    owner_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_from: str | None
    revoked_at: datetime | None
    rotated_from: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``GET /api-keys`` lists)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "last_used_from": self.last_used_from,
            "revoked_at": iso(self.revoked_at),
            "rotated_from": self.rotated_from,
        }


@dataclass(frozen=True)
class IssuedKey:
    """A new key and its secret: the only time the secret exists outside the client."""

    key: ApiKey
    secret: str

    def as_dict(self) -> dict[str, Any]:
        """The key's JSON with the secret in a ``key`` member."""
        return {**self.key.as_dict(), "key": self.secret}


class InvalidApiKeyError(UnauthorizedError):
    """The credential is not a key this provider issued (unknown, malformed, wrong secret)."""

    code: ClassVar[str] = "api_key_invalid"
    title: ClassVar[str] = "Invalid API key"


class ApiKeyExpiredError(InvalidApiKeyError):
    """The key's expiry (or the end of its rotation overlap) has passed."""

    code: ClassVar[str] = "api_key_expired"
    title: ClassVar[str] = "API key expired"


class ApiKeyRevokedError(InvalidApiKeyError):
    """The key was revoked."""

    code: ClassVar[str] = "api_key_revoked"
    title: ClassVar[str] = "API key revoked"


class ApiKeyOwnerDisabledError(ForbiddenError):
    """The key's owner account is disabled (or gone): its keys are refused."""

    code: ClassVar[str] = "api_key_owner_disabled"
    title: ClassVar[str] = "API key owner disabled"


class UnknownScopeError(InvalidInputError):
    """A key was asked for a scope the provider's settings do not declare."""

    code: ClassVar[str] = "api_key_scope_unknown"
    title: ClassVar[str] = "Unknown scope"


class InvalidExpiryError(InvalidInputError):
    """A key's expiry is in the past or beyond the provider's longest lifetime."""

    code: ClassVar[str] = "api_key_expiry_invalid"
    title: ClassVar[str] = "Invalid expiry"


class ApiKeyNotFoundError(NotFoundError):
    """No key with this id belongs to the caller (another owner's key is not found either)."""

    code: ClassVar[str] = "api_key_not_found"
    title: ClassVar[str] = "API key not found"


class ApiKeyScopeRequiredError(ForbiddenError):
    """A request authenticated by an API key tried something keys may only do with a scope
    (managing keys: ``api-keys:manage``)."""

    code: ClassVar[str] = "api_key_scope_required"
    title: ClassVar[str] = "API key lacks the scope"


@runtime_checkable
class ApiKeyStore(Protocol):
    """What every ``ApiKeys`` provider implements.

    ``create``/``rotate`` raise :class:`UnknownScopeError` and :class:`InvalidExpiryError`
    (422); ``revoke``/``rotate`` raise :class:`ApiKeyNotFoundError` (404) for a key that is
    not the owner's; ``verify`` raises :class:`InvalidApiKeyError`,
    :class:`ApiKeyExpiredError` or :class:`ApiKeyRevokedError` (401).
    """

    @property
    def known_scopes(self) -> frozenset[str]:
        """The scopes a key may be given (``api-keys:manage`` always among them)."""
        ...

    async def create(
        self,
        owner_id: str,
        name: str,
        scopes: Sequence[str] = (),
        *,
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        """A new key of ``owner_id`` (``expires_at`` in UTC, naive taken as UTC, or none)."""
        ...

    async def list_for(self, owner_id: str) -> list[ApiKey]:
        """The owner's keys, revoked and expired ones included, newest first."""
        ...

    async def revoke(self, owner_id: str, key_id: str) -> ApiKey:
        """Revoke one of the owner's keys at once (revoking twice keeps the first time)."""
        ...

    async def rotate(self, owner_id: str, key_id: str, *, overlap: float) -> IssuedKey:
        """A new key with the old one's name, scopes and expiry; the old one keeps working
        for ``overlap`` seconds (0: it stops now), so clients can switch without a gap."""
        ...

    async def verify(self, secret: str, *, client: str | None = None) -> ApiKey:
        """The live key ``secret`` belongs to; records its last use (time and ``client``)."""
        ...


ApiKeys: Capability[ApiKeyStore] = Capability(
    "ApiKeys",
    ApiKeyStore,
    description="Personal API keys: shown once, hashed, scoped, expiring, rotated with overlap.",
)
