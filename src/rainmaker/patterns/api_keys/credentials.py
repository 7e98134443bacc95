"""``ApiKeyCredentials``: the ``Credentials`` provider that lets keys through the guards.

``rainmaker.http`` hands it every bearer token (or ``X-API-Key``) that starts with the
key prefix, once per request. The grant acts as the key's owner with the key's scopes and
*no roles*: a key is a narrow, revocable stand-in, so routes that check a role (an admin
console) stay closed to keys, and routes that check scopes see the key's. The owner must
still exist and be enabled. With a rate limit policy set, every authenticated request
counts under it, per key.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rainmaker.capabilities.api_keys import ApiKeyOwnerDisabledError
from rainmaker.capabilities.auth import Authenticator, Identity
from rainmaker.capabilities.credentials import CredentialGrant
from rainmaker.patterns.api_keys.store import PATTERN_ID, SqlApiKeyStore

if TYPE_CHECKING:
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
    ) -> None:
        self.store = store
        self.auth = auth
        self.limiter = limiter
        self.policy = policy
        self._prefixes = (store.prefix,)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return self._prefixes

    async def authenticate(self, credential: str, *, client: str | None = None) -> CredentialGrant:
        key = await self.store.verify(credential, client=client)
        if self.limiter is not None and self.policy is not None:
            decision = await self.limiter.hit(self.policy, f"api-key:{key.id}")
            if not decision.allowed:
                raise decision.error(pattern_id=PATTERN_ID)
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


def _unix(moment: datetime) -> int:
    # Stored times are naive UTC; .timestamp() alone would read them as local time.
    return int(moment.replace(tzinfo=UTC).timestamp())
