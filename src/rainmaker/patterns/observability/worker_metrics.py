"""``/metrics`` and ``/health/*`` of a worker process, on a port of its own.

A worker (``rainmaker worker``) serves no HTTP, yet its job outcomes, queue depth and
process metrics live in *its* process: scraping the web process never sees them. With
``metrics.worker_port`` set, this pattern contributes a loop to the ``worker`` process role
(``Module.process_roles()``) that serves, on that port only:

- ``GET /metrics``: the same registry as the web process's ``/metrics`` (health
  families refreshed first) — here with the worker's job outcomes and process figures;
- ``GET /health/live`` (the process answers), ``GET /health/ready`` (200 while the app runs
  and no pattern is down, 503 otherwise, so a probe restarts a stuck worker) and
  ``GET /health`` (every pattern's status and details, loopback clients only, as the web
  process's detail is by default).

uvicorn runs it on the worker's event loop; the worker command owns the signals (SIGTERM
stops every role, this one included), so the server does not capture them.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rainmaker import AppContext, RoleOptions

NO_STORE = {"Cache-Control": "no-store"}


class WorkerMetricsRole:
    """A :class:`rainmaker.ProcessRole`: serve until :meth:`stop`."""

    def __init__(
        self,
        ctx: AppContext,
        *,
        host: str,
        port: int,
        exposition: Callable[[], Awaitable[bytes]],
        loopback_only_metrics: bool,
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self.exposition = exposition
        self.loopback_only_metrics = loopback_only_metrics
        self._server: Any = None
        self._stopping = False

    def asgi(self) -> Starlette:
        """The tiny app served on the worker's port (no middleware: nothing to protect)."""
        app = self.ctx.app

        async def metrics(request: Request) -> Response:
            if self.loopback_only_metrics and not _loopback(request):
                return Response(status_code=404)
            return Response(await self.exposition(), media_type=CONTENT_TYPE_LATEST)

        async def live(_request: Request) -> Response:
            return JSONResponse({"status": "alive", "role": "worker"}, headers=NO_STORE)

        async def ready(_request: Request) -> Response:
            if app.state != "running":
                return _ready(False, app.state, [])
            report = await app.health()
            down = [i.instance for i in report.instances if i.status.value == "down"]
            return _ready(report.ready, report.state, down)

        async def detail(request: Request) -> Response:
            if not _loopback(request):
                return JSONResponse(
                    {"status": 403, "detail": "the health detail is served to loopback only"},
                    status_code=403,
                    media_type="application/problem+json",
                )
            report = await app.health()
            return JSONResponse(
                report.as_dict(), status_code=200 if report.ready else 503, headers=NO_STORE
            )

        return Starlette(
            routes=[
                Route("/metrics", metrics),
                Route("/health/live", live),
                Route("/health/ready", ready),
                Route("/health", detail),
            ]
        )

    async def run(self, options: RoleOptions) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.asgi(),
            host=self.host,
            port=self.port,
            lifespan="off",  # the worker command starts and stops the app
            log_config=None,
            access_log=False,
        )
        server = _signal_free_server(config)
        self._server = server
        if self._stopping:  # stopped before it ran
            return
        self.ctx.log.info(
            "observability.worker_metrics", url=f"http://{self.host}:{self.port}/metrics"
        )
        await server.serve()
        if not server.started and not self._stopping:
            raise OSError(f"could not serve worker metrics on {self.host}:{self.port}")

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True


def _signal_free_server(config: Any) -> Any:
    """uvicorn's server without its signal handlers (the worker command has its own).

    uvicorn is imported here, when the worker role runs: listing patterns or serving the
    web process does not pay for it twice.
    """
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server(config)


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ready(ready: bool, state: str, down: list[str]) -> JSONResponse:
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "state": state}
    if down:
        body["down"] = down
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)
