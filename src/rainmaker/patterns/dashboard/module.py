"""The running ``dev-dashboard`` module: the page, its JSON and assets, and who may see them.

Outside the profiles its settings name, :meth:`DashboardModule.router` returns nothing, so
no dashboard route exists at all (not a 404 handler: nothing to probe). Inside them, every
route answers only loopback clients unless ``loopback_only`` is off.
"""

from __future__ import annotations

# Imported only when the pattern is built (its factory is a string), never when listed.
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from rainmaker import AppContext, ForbiddenError, Health, Module
from rainmaker.patterns.dashboard.access import is_local_request
from rainmaker.patterns.dashboard.page import ASSETS, CONTENT_SECURITY_POLICY, asset, render_page
from rainmaker.patterns.dashboard.redaction import Scrubber
from rainmaker.patterns.dashboard.settings import DashboardSettings
from rainmaker.patterns.dashboard.snapshot import collect, health_dict

NO_STORE = {"Cache-Control": "no-store"}


class DashboardModule(Module[DashboardSettings]):
    """Serves ``/_rainmaker`` (or the instance's ``mount``) in the profiles it is meant for."""

    def __init__(self, settings: DashboardSettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        self.serving = settings.serves_in(ctx.env)
        self._started = False

    async def start(self) -> None:
        self._started = True
        if self.serving:
            self.ctx.log.info(
                "dashboard.serving", path=self.prefix, loopback_only=self.settings.loopback_only
            )

    @property
    def prefix(self) -> str:
        """The URL prefix the dashboard's routes mount under."""
        return self.ctx.instances[self.ctx.instance].prefix

    async def stop(self) -> None:
        self._started = False

    async def health(self) -> Health:
        """Up once started; the details say whether (and for whom) the page is served."""
        if not self._started:
            return Health.down(reason="not started")
        return Health.up(
            serving=self.serving,
            profile=self.ctx.env,
            loopback_only=self.settings.loopback_only,
        )

    def router(self) -> APIRouter | None:
        """The page, ``api/state``, ``api/health`` and ``assets/<name>``; none when off."""
        if not self.serving:
            return None

        settings = self.settings
        application = self.ctx.app

        def allowed(request: Request) -> None:
            client = request.client.host if request.client else None
            if settings.loopback_only and not is_local_request(client, request.headers.get("host")):
                raise ForbiddenError(
                    "the developer dashboard answers loopback clients asking for a loopback "
                    "host (localhost, 127.0.0.1, [::1]) only",
                    pattern_id=self.ctx.instance,
                    hint="open it from the machine running the app, or set loopback_only = "
                    "false in a profile where that is safe",
                )

        router = APIRouter(include_in_schema=False, dependencies=[Depends(allowed)])

        @router.get("")
        async def page() -> HTMLResponse:
            snapshot = await collect(application, settings)
            html = render_page(snapshot, prefix=self.prefix, refresh=settings.refresh_interval)
            return HTMLResponse(
                html,
                headers={**NO_STORE, "Content-Security-Policy": CONTENT_SECURITY_POLICY},
            )

        @router.get("/api/state")
        async def state() -> JSONResponse:
            snapshot = await collect(application, settings)
            return JSONResponse(snapshot.as_dict(), headers=NO_STORE)

        @router.get("/api/health")
        async def health() -> JSONResponse:
            # Always 200: the page shows a down app rather than a failed request.
            report = await application.health()
            return JSONResponse(
                health_dict(report, Scrubber.for_app(application)), headers=NO_STORE
            )

        @router.get("/assets/{name}")
        async def assets(name: str) -> Response:
            if name not in ASSETS:
                return Response(status_code=404)
            return Response(asset(name), media_type=ASSETS[name], headers=NO_STORE)

        return router
