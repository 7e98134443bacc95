"""The running ``oauth-login`` module: one client per provider, the flows, the routes."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from rainmaker import Health, Module, UnavailableError
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.patterns.oauth_login.errors import ProviderUnavailableError
from rainmaker.patterns.oauth_login.provider import ProviderClient
from rainmaker.patterns.oauth_login.service import OAuthLogin
from rainmaker.patterns.oauth_login.settings import OAuthLoginSettings


class OAuthLoginModule(Module[OAuthLoginSettings]):
    """``oauth-login``: sign in through the configured providers, users made by ``Auth``."""

    _service: OAuthLogin | None = None
    _http: httpx.AsyncClient | None = None

    @property
    def mount(self) -> str:
        """Where the routes are served (``/auth`` unless the composition says otherwise)."""
        return self.ctx.instances[self.ctx.instance].prefix

    @property
    def service(self) -> OAuthLogin:
        """The running service; 503 while the module is not started."""
        if self._service is None:
            raise UnavailableError(
                f"{self.ctx.instance} (oauth-login) is not running",
                pattern_id=self.ctx.instance,
            )
        return self._service

    def _resolve(self) -> OAuthLogin:
        return self.service

    async def start(self) -> None:
        settings = self.settings
        self._http = httpx.AsyncClient(timeout=settings.provider_timeout, follow_redirects=False)
        base = f"{settings.public_url}{self.mount}/oauth"
        clients = {
            name: ProviderClient(
                name,
                provider,
                self._http,
                redirect_uri=f"{base}/{name}/callback",
                leeway=settings.clock_leeway,
            )
            for name, provider in settings.clients.items()
        }
        self._service = OAuthLogin(
            settings,
            self.ctx.services.require(Database),
            self.ctx.services.require(Auth),
            clients,
            mount=self.mount,
        )
        # Discovery now, so the first sign-in is quick; a provider that is down does not
        # stop the app (its routes answer 503 and health says degraded until it is back).
        await asyncio.gather(*(self._probe(client) for client in clients.values()))

    @staticmethod
    async def _probe(client: ProviderClient) -> None:
        try:
            await client.probe()
        except ProviderUnavailableError:
            pass  # recorded in client.last_error

    async def stop(self) -> None:
        self._service = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def health(self) -> Health:
        if self._service is None:
            return Health.down(reason="not started")
        clients = self._service.clients
        # A provider that failed is asked again, so health recovers when it does.
        await asyncio.gather(
            *(self._probe(client) for client in clients.values() if client.last_error)
        )
        failing = {name: c.problem for name, c in clients.items() if c.problem}
        providers = sorted(clients)
        if failing:
            return Health.degraded(providers=providers, unreachable=failing)
        return Health.up(providers=providers)

    def router(self) -> Any:
        from rainmaker.patterns.oauth_login.routes import oauth_router

        return oauth_router(self._resolve)
