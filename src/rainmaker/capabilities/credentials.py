"""The ``Credentials`` capability: credentials other than the Auth provider's access tokens.

:mod:`rainmaker.http`'s ``CurrentUser``, ``OptionalUser``, ``Identity``,
``require_roles`` and ``require_scopes`` read one credential per request: the
``Authorization: Bearer <credential>`` header or, without it, the ``X-API-Key`` header.
Before handing it to the ``Auth`` provider they ask the composed ``Credentials`` provider,
if any: a credential that starts with one of its :attr:`CredentialVerifier.prefixes`
(``rk_`` for ``api-keys``) is verified by it instead, so every route that already uses
those dependencies accepts the new credential with no change. Anything else still goes to
``Auth`` (an ``X-API-Key`` without a known prefix is refused as a bad credential).

The hook is deliberately small: one provider per app, a prefix test per request, and the
same :class:`~rainmaker.capabilities.auth.Identity` and
:class:`~rainmaker.capabilities.auth.User` types the guards already check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rainmaker.capabilities.auth import Identity, User
from rainmaker.kernel.capability import Capability

API_KEY_HEADER = "x-api-key"
"""The header (lower case, as ASGI carries it) read when no ``Authorization`` is sent."""


@dataclass(frozen=True, slots=True)
class CredentialGrant:
    """What a verified credential acts as: the identity the scope and role guards check and
    the owner's account (its ``scopes`` those of the credential, not the account's)."""

    identity: Identity
    user: User


@runtime_checkable
class CredentialVerifier(Protocol):
    """What a ``Credentials`` provider implements.

    :meth:`authenticate` raises :class:`~rainmaker.UnauthorizedError` subclasses (401) for
    a credential that is unknown, expired or revoked or whose owner is disabled, and may
    raise :class:`~rainmaker.RateLimitedError` (429). ``rainmaker.http`` calls it at most
    once per request (the grant is kept in the request's state), so a provider may count
    uses and record the last one there.
    """

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Credentials starting with one of these are this provider's (never empty)."""
        ...

    async def authenticate(self, credential: str, *, client: str | None = None) -> CredentialGrant:
        """The grant of ``credential``; ``client`` is the caller's address, for records."""
        ...


Credentials: Capability[CredentialVerifier] = Capability(
    "Credentials",
    CredentialVerifier,
    description="Extra credentials (API keys) the rainmaker.http auth dependencies accept.",
)
