"""The running ``observability`` module: metrics registry, tracer, ``/metrics`` route, middleware.

Construction builds the app's own :class:`~prometheus_client.CollectorRegistry` and
request metrics (no I/O, so ``rainmaker routes`` can compose the middleware). ``start``
builds the tracer provider when an exporter is chosen, instruments every database engine
and adds the trace ids to log lines; ``stop`` detaches and flushes. The pattern starts
after every other non-HTTP instance (``starts_last``), so the engines exist by then.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from opentelemetry.trace import Tracer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from rainmaker.capabilities.database import Database
from rainmaker.kernel.context import AppContext
from rainmaker.kernel.health import Health
from rainmaker.kernel.logging import add_processor
from rainmaker.kernel.module import Middleware, Module
from rainmaker.patterns.observability.asgi import ObservabilityMiddleware
from rainmaker.patterns.observability.metrics import HealthMetrics, RequestMetrics
from rainmaker.patterns.observability.settings import ObservabilitySettings
from rainmaker.patterns.observability.tracing import Tracing, add_trace_ids

LOOPBACK = frozenset({"127.0.0.1", "::1"})


class ObservabilityModule(Module[ObservabilitySettings]):
    """Serves ``/metrics``, counts and traces requests, traces database statements."""

    def __init__(self, settings: ObservabilitySettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        metrics = settings.metrics
        # One registry per app, never prometheus_client's global one: two apps in one
        # process (tests, embedding) would otherwise collide on metric names.
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = (
            RequestMetrics(self.registry, namespace=metrics.namespace, buckets=metrics.buckets)
            if metrics.enabled
            else None
        )
        self.health_metrics = HealthMetrics(metrics.namespace)
        self.registry.register(self.health_metrics)
        self.tracing: Tracing | None = None

    # -- what the middleware reads ------------------------------------------------------

    @property
    def request_metrics(self) -> RequestMetrics | None:
        return self._requests

    @property
    def tracer(self) -> Tracer | None:
        tracing = self.tracing
        return None if tracing is None else tracing.tracer

    # -- contributions --------------------------------------------------------------------

    def middleware(self) -> Sequence[Middleware]:
        """The request layer, just outside the edge (see :mod:`.asgi` for why)."""
        if not self.settings.metrics.enabled and self.settings.tracing.exporter == "none":
            return ()
        return [
            Middleware(
                "observability",
                ObservabilityMiddleware,
                options={"instruments": self},
                before=["edge"],
            )
        ]

    def router(self) -> APIRouter | None:
        """``GET <metrics.path>``: the exposition text, health families refreshed first."""
        settings = self.settings.metrics
        if not settings.enabled:
            return None
        router = APIRouter()

        @router.get(settings.path, include_in_schema=False)
        async def metrics(request: Request) -> Response:
            if settings.access == "loopback" and (
                request.client is None or request.client.host not in LOOPBACK
            ):
                raise HTTPException(status_code=404)
            await self.health_metrics.refresh(self.ctx.app, settings.health_timeout)
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return router

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        tracing_settings = self.settings.tracing
        if tracing_settings.exporter != "none":
            tracing = Tracing(
                tracing_settings,
                service_name=tracing_settings.service_name or self.ctx.config.name,
                environment=self.ctx.env,
            )
            for instance, database in self.ctx.app.registry.providers(Database).items():
                engine = getattr(database, "engine", None)
                if engine is not None:
                    tracing.instrument_engine(
                        engine, instance=instance, system=_db_system(database)
                    )
            self.tracing = tracing
            add_processor(add_trace_ids)
            self._instrument_httpx(tracing)
        self.ctx.log.info(
            "observability.started",
            metrics=self.settings.metrics.path if self.settings.metrics.enabled else None,
            tracing=tracing_settings.exporter,
        )

    def _instrument_httpx(self, tracing: Tracing) -> None:
        """Outgoing HTTP spans, when OpenTelemetry's httpx instrumentation is installed."""
        try:
            found = importlib.util.find_spec("opentelemetry.instrumentation.httpx") is not None
        except ModuleNotFoundError:  # not even opentelemetry.instrumentation
            found = False
        if not found:
            self.ctx.log.debug(
                "observability.httpx_not_traced",
                hint="install opentelemetry-instrumentation-httpx to trace outgoing requests",
            )
            return
        module: Any = importlib.import_module("opentelemetry.instrumentation.httpx")
        instrumentor = module.HTTPXClientInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=tracing.provider)

    async def stop(self) -> None:
        tracing, self.tracing = self.tracing, None
        if tracing is not None:
            tracing.shutdown()

    async def health(self) -> Health:
        settings = self.settings
        return Health.up(
            metrics=settings.metrics.path if settings.metrics.enabled else None,
            tracing=settings.tracing.exporter,
        )


def _db_system(database: Any) -> str:
    backend = str(getattr(database, "backend", "sql"))
    return {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}.get(
        backend, backend
    )
