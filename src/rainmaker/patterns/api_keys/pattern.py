"""Declaration of the ``api-keys`` pattern (light: no SQLAlchemy or FastAPI import)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.api_keys import ApiKeys
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.credentials import Credentials
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.organizations import Organizations
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.patterns.api_keys.settings import ApiKeySettings

api_keys: Pattern[ApiKeySettings] = Pattern(
    id="api-keys",
    version="1.0.0",
    name="API keys",
    description="Personal and organization API keys: shown once at creation, stored as a "
    "SHA-256 digest behind a public prefix (rk_live_…), named, scoped, optionally "
    "expiring, last use recorded; list, revoke, rotate with overlap. 'Authorization: "
    "Bearer rk_…' or X-API-Key authenticates as the owner with the key's scopes through "
    "rainmaker.http's CurrentUser and require_scopes; an organization's keys "
    "(/orgs/{org}/api-keys, managed by its owners and admins) act as the organization in "
    "CurrentOrg; per-key rate limits when rate-limit is composed.",
    settings=ApiKeySettings,
    factory="rainmaker.patterns.api_keys.module:ApiKeysModule",
    provides=[ApiKeys, Credentials],
    requires=[Database, Auth, RateLimits.optional(), Organizations.optional()],
    # Routes carry their own paths: /api-keys/… and /orgs/{org}/api-keys/….
    mount=None,
    migrations="rainmaker.patterns.api_keys.migrations",
    table_prefix="api_keys_",
    examples=[
        {"scopes": {"projects:read": "read projects", "projects:write": "create projects"}},
        {
            "prefix": "rk_test_",
            "scopes": {"projects:write": "create projects"},
            "max_keys": 10,
            "max_lifetime_days": 365,
            "rotation_overlap": 3600,
            "rate_limit_policy": "api-key",
        },
    ],
)
