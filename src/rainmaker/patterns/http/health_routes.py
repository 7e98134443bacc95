"""``/health/live``, ``/health/ready`` and ``/health``: what orchestrators and people ask.

* live: the process answers (200 as long as the event loop runs);
* ready: 200 only while the app is running and no pattern is down; 503 while starting,
  while a pattern is down and once shutdown has begun (the app is ``draining``), so a load
  balancer stops sending traffic before the server stops accepting it;
* detail: every pattern's status, details and check latency; served by default only to
  loopback clients that came through no proxy, as details reveal paths and topology
  (``detail = "public"`` serves anyone, ``"off"`` unmounts it).

Health answers are never cached.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from rainmaker import AppView
from rainmaker.patterns.http.health_models import HealthDetail, Liveness, Readiness
from rainmaker.patterns.http.problems import ProblemResponse, problem_body, request_id_of
from rainmaker.patterns.http.settings import HealthSettings

NO_STORE = {"Cache-Control": "no-store"}
# Headers a reverse proxy adds: a request carrying one came from elsewhere, even when the
# proxy itself connects from 127.0.0.1.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def is_local_request(request: Request) -> bool:
    """Whether ``request`` comes from this machine: a loopback peer (127.0.0.0/8, ::1,
    v4-mapped) and no proxy's forwarding header."""
    peer = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_loopback:
        return False
    return not any(name in request.headers for name in FORWARDING_HEADERS)


def health_router(
    app: AppView, settings: HealthSettings, *, instance: str, type_base: str
) -> APIRouter:
    """The health routes for ``app`` under ``settings.path``."""
    router = APIRouter(prefix=settings.path)

    @router.get("/live", summary="Liveness: the process answers", response_model=Liveness)
    async def live() -> JSONResponse:
        """200 as long as the process answers: a liveness probe restarts it otherwise."""
        return JSONResponse({"status": "alive"}, headers=NO_STORE)

    @router.get(
        "/ready",
        summary="Readiness: running and every pattern up",
        response_model=Readiness,
        responses={
            503: {"description": "Starting, draining, or a pattern is down", "model": Readiness}
        },
    )
    async def ready() -> JSONResponse:
        """200 while the app runs and no pattern is down; 503 while it starts, drains or
        a pattern is down, so a load balancer sends it no traffic."""
        if app.state != "running":  # no need to ask the patterns
            return _ready_response(False, app.state, [])
        report = await app.health()
        down = [item.instance for item in report.instances if item.status.value == "down"]
        return _ready_response(report.ready, report.state, down)

    if settings.detail != "off":

        @router.get(
            "",
            summary="Every pattern's health, with details and check latency",
            response_model=HealthDetail,
            responses={
                503: {"description": "Not ready", "model": HealthDetail},
                403: {"description": "Restricted to loopback clients"},
            },
        )
        async def detail(request: Request) -> Response:
            """Every pattern's health with its details and check latency; by default only
            for loopback clients, since details name hosts, pools and queues."""
            if settings.detail == "loopback" and not is_local_request(request):
                body = problem_body(
                    status=403,
                    code="forbidden",
                    detail="The health detail is only served to loopback clients that came "
                    "through no proxy; ask it from the machine itself (curl "
                    f"http://127.0.0.1:<port>{settings.path}), or use {settings.path}/ready",
                    type_base=type_base,
                    pattern=instance,
                    request_id=request_id_of(request.scope),
                )
                return ProblemResponse(body, status_code=403)
            report = await app.health()
            return JSONResponse(
                report.as_dict(), status_code=200 if report.ready else 503, headers=NO_STORE
            )

    return router


def _ready_response(ready: bool, state: str, down: list[str]) -> JSONResponse:
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "state": state}
    if down:
        body["down"] = down
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)
