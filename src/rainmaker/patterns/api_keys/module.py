"""The running ``api-keys`` module: the key store (``ApiKeys``) and the verifier
(``Credentials``) that lets keys through ``rainmaker.http``'s auth dependencies.

Its routes are ``/api-keys`` (personal keys, :mod:`.routes`) and ``/orgs/{org}/api-keys``
(organization keys, :mod:`.org_routes`; they need an ``Organizations`` pattern composed,
which the verifier also asks whether a key's organization still exists)."""

from __future__ import annotations

from typing import Any

from rainmaker import Health, Module, SettingsError
from rainmaker.capabilities.api_keys import ApiKeys
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.credentials import Credentials
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.organizations import Organizations
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.patterns.api_keys.credentials import ApiKeyCredentials
from rainmaker.patterns.api_keys.settings import ApiKeySettings
from rainmaker.patterns.api_keys.store import SqlApiKeyStore


class ApiKeysModule(Module[ApiKeySettings]):
    """``api-keys``: keys in the app's database, verified for every route's guards."""

    store: SqlApiKeyStore | None = None
    verifier: ApiKeyCredentials | None = None

    async def start(self) -> None:
        services = self.ctx.services
        self.store = SqlApiKeyStore(services.require(Database), self.settings)
        policy = self.settings.rate_limit_policy
        limiter = services.get(RateLimits)
        if policy is not None:
            if limiter is None:
                raise SettingsError(
                    f"rate_limit_policy = {policy!r}, but no rate-limit instance is composed",
                    pattern_id=self.ctx.instance,
                    hint="add a rate-limit instance declaring that policy, or unset "
                    "rate_limit_policy",
                )
            if policy not in limiter.policies:
                declared = ", ".join(sorted(limiter.policies)) or "none"
                raise SettingsError(
                    f"rate_limit_policy = {policy!r} is not a policy of the rate-limit "
                    f"instance (declared: {declared})",
                    pattern_id=self.ctx.instance,
                    hint=f"declare [patterns.<rate-limit>.policies.{policy}]",
                )
        self.verifier = ApiKeyCredentials(
            self.store,
            services.require(Auth),
            limiter=limiter if policy is not None else None,
            policy=policy,
            directory=services.get(Organizations),
        )
        services.register(ApiKeys, self.store)
        services.register(Credentials, self.verifier)

    async def stop(self) -> None:
        self.store = None
        self.verifier = None

    async def health(self) -> Health:
        if self.store is None:
            return Health.down(reason="not started")
        return Health.up(prefix=self.settings.prefix, scopes=sorted(self.store.known_scopes))

    def router(self) -> Any:
        from fastapi import APIRouter

        from rainmaker.patterns.api_keys.org_routes import org_router
        from rainmaker.patterns.api_keys.routes import router

        combined = APIRouter()
        combined.include_router(router, prefix="/api-keys")
        combined.include_router(org_router)
        return combined
