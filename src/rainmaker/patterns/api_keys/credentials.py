"""``ApiKeyCredentials``: the ``Credentials`` provider that lets keys through the guards.

``rainmaker.http`` hands it every bearer token (or ``X-API-Key``) that starts with the
key prefix, once per request. The grant acts as the key's owner with the key's scopes and
*no roles*: a key is a narrow, revocable stand-in, so routes that check a role (an admin
console) stay closed to keys, and routes that check scopes see the key's. The owner must
still exist and be enabled. With a rate limit policy set, every authenticated request
counts under it, per key.

An organization's key (stored under the owner id ``org:<org id>``) acts as that principal:
no account behind it, the key's scopes, and ``CurrentOrg`` resolves to its organization
(see :func:`rainmaker.capabilities.organizations.org_principal`). The organization must
still exist (not deleted); who created the key no longer matters.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rainmaker.capabilities.api_keys import ApiKeyOwnerDisabledError
from rainmaker.capabilities.auth import Authenticator, Identity, User
from rainmaker.capabilities.credentials import CredentialGrant
from rainmaker.capabilities.organizations import principal_org
from rainmaker.patterns.api_keys.store import PATTERN_ID, SqlApiKeyStore

if TYPE_CHECKING:
    from rainmaker.capabilities.api_keys import ApiKey
    from rainmaker.capabilities.organizations import OrganizationDirectory
    from rainmaker.capabilities.rate_limits import RateLimiter


class ApiKeyCredentials:
    """The :class:`~rainmaker.capabilities.credentials.CredentialVerifier` of ``api-keys``."""

    def __init__(
        self,
        store: SqlApiKeyStore,
        auth: Authenticator,
        *,
        limiter: RateLimiter | None = None,
        policy: str | None = None,
        directory: OrganizationDirectory | None = None,
    ) -> None:
        self.store = store
        self.auth = auth
        self.directory = directory
        self.limiter = limiter
        self.policy = policy
        self._prefixes = (store.prefix,)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return self._prefixes

    async def authenticate(self, credential: str, *, client: str | None = None) -> CredentialGrant:
        # The key and its owner in one unit of work (the owner's provider joins it when it
        # keeps its accounts in the same database): a unit costs more than either indexed
        # read. The rate limiter counts after it, so no lock or connection is held while
        # it talks to its storage.
        async with self.store.db.session():
            key = await self.store.verify(credential, client=client)
            org_id = principal_org(key.owner_id)
            if org_id is not None:
                grant = await self._org_grant(key, org_id)
            else:
                grant = await self._user_grant(key)
        if self.limiter is not None and self.policy is not None:
            decision = await self.limiter.hit(self.policy, f"api-key:{key.id}")
            if not decision.allowed:
                raise decision.error(pattern_id=PATTERN_ID)
        return grant

    async def _user_grant(self, key: ApiKey) -> CredentialGrant:
        """The grant of a personal key: its owner's account, the key's scopes, no roles."""
        user = await self.auth.get_user(key.owner_id)
        if user is None or user.disabled:
            raise ApiKeyOwnerDisabledError(
                f"the owner of API key {key.prefix}… is disabled", pattern_id=PATTERN_ID
            )
        scopes = frozenset(key.scopes)
        identity = Identity(
            user_id=user.id,
            roles=frozenset(),
            scopes=scopes,
            token_id=key.id,
            session_id=None,
            issued_at=_unix(key.created_at),
            expires_at=_unix(key.expires_at) if key.expires_at is not None else 0,
        )
        return CredentialGrant(identity, replace(user, roles=(), scopes=key.scopes))

    async def _org_grant(self, key: ApiKey, org_id: str) -> CredentialGrant:
        """The grant of an organization's key: the organization itself, the key's scopes."""
        organization = await self.directory.get(org_id) if self.directory is not None else None
        if organization is None:
            # Deleted (or no Organizations pattern composed any more): its keys stop.
            raise ApiKeyOwnerDisabledError(
                f"the organization that owns API key {key.prefix}… no longer exists",
                pattern_id=PATTERN_ID,
            )
        identity = Identity(
            user_id=key.owner_id,
            roles=frozenset(),
            scopes=frozenset(key.scopes),
            token_id=key.id,
            session_id=None,
            issued_at=_unix(key.created_at),
            expires_at=_unix(key.expires_at) if key.expires_at is not None else 0,
        )
        principal = User(
            id=key.owner_id,
            email="",  # an organization has no address of its own
            roles=(),
            scopes=key.scopes,
            verified=True,
            disabled=False,
            created_at=organization.created_at,
            updated_at=organization.created_at,
        )
        return CredentialGrant(identity, principal)


def _unix(moment: datetime) -> int:
    # A naive time is UTC here; .timestamp() alone would read it as local time.
    return int(moment.replace(tzinfo=UTC).timestamp())
