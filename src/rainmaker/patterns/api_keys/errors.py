"""Errors of ``api-keys``, each with a stable code and its HTTP status.

They belong to the ``ApiKeys`` capability (callers of any provider catch them), so they
are defined in :mod:`rainmaker.capabilities.api_keys` and named here for readers of this
pattern:

- 401 ``api_key_invalid`` (:class:`InvalidApiKeyError`), ``api_key_expired``
  (:class:`ApiKeyExpiredError`), ``api_key_revoked`` (:class:`ApiKeyRevokedError`);
- 403 ``api_key_owner_disabled`` (:class:`ApiKeyOwnerDisabledError`),
  ``api_key_scope_required`` (:class:`ApiKeyScopeRequiredError`: a key managing keys
  without ``api-keys:manage``);
- 404 ``api_key_not_found`` (:class:`ApiKeyNotFoundError`);
- 422 ``api_key_scope_unknown`` (:class:`UnknownScopeError`), ``api_key_expiry_invalid``
  (:class:`InvalidExpiryError`).
"""

from rainmaker.capabilities.api_keys import (
    ApiKeyExpiredError,
    ApiKeyNotFoundError,
    ApiKeyOwnerDisabledError,
    ApiKeyRevokedError,
    ApiKeyScopeRequiredError,
    InvalidApiKeyError,
    InvalidExpiryError,
    UnknownScopeError,
)

__all__ = [
    "ApiKeyExpiredError",
    "ApiKeyNotFoundError",
    "ApiKeyOwnerDisabledError",
    "ApiKeyRevokedError",
    "ApiKeyScopeRequiredError",
    "InvalidApiKeyError",
    "InvalidExpiryError",
    "UnknownScopeError",
]
