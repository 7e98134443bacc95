"""The running ``observability`` module: metrics registry, tracer, ``/metrics`` route, middleware.

Construction builds the app's own :class:`~prometheus_client.CollectorRegistry`, the
request metrics and the process collectors (no I/O, so ``rainmaker routes`` can compose
the middleware). ``start`` samples the event-loop lag (see :mod:`.process`), builds
the tracer provider when an exporter is chosen, registers it as the ``Tracing``
capability (a recorder of nothing when tracing is off), instruments the database engines,
traces outgoing httpx requests and adds the trace ids to log lines; ``stop`` detaches and
flushes.

Patterns that trace their operations require ``Tracing`` (optionally), so this pattern
starts *before* them and stops after them. Databases need not start before it: engines
that did not exist at ``start`` are instrumented by :meth:`ObservabilityModule.settle`,
which runs before every request and pattern span until the app has finished starting —
so every statement of every request or job is traced, while statements run during
another pattern's start may not be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from opentelemetry.trace import Tracer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from rainmaker import (
    WORKER_ROLE,
    AppContext,
    DashboardPanel,
    Health,
    Middleware,
    Module,
    PanelTable,
    ProcessRole,
    StartupError,
)
from rainmaker import add_log_processor as add_processor
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.observability.asgi import ObservabilityMiddleware
from rainmaker.patterns.observability.leak_watch import LeakWatch
from rainmaker.patterns.observability.metrics import (
    HealthMetrics,
    RequestMetrics,
    metric_namespace,
)
from rainmaker.patterns.observability.operator import OperatorSurface
from rainmaker.patterns.observability.outgoing import available as httpx_available
from rainmaker.patterns.observability.outgoing import outgoing_http
from rainmaker.patterns.observability.process import (
    LoopLagMonitor,
    register_process_collectors,
    runtime_rows,
)
from rainmaker.patterns.observability.request_profile import RequestProfiler
from rainmaker.patterns.observability.settings import ObservabilitySettings
from rainmaker.patterns.observability.tracing import AppTracing, NoTracing, add_trace_ids
from rainmaker.patterns.observability.worker_metrics import WorkerMetricsRole

LOOPBACK = frozenset({"127.0.0.1", "::1"})


class ObservabilityModule(Module[ObservabilitySettings]):
    """Serves ``/metrics``, counts and traces requests, traces database statements."""

    def __init__(self, settings: ObservabilitySettings, ctx: AppContext) -> None:
        super().__init__(settings, ctx)
        metrics = settings.metrics
        namespace = self.namespace = metrics.namespace or metric_namespace(ctx.app.name)
        # One registry per app, never prometheus_client's global one: two apps in one
        # process (tests, embedding) would otherwise collide on metric names.
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = (
            RequestMetrics(self.registry, namespace=namespace, buckets=metrics.buckets)
            if metrics.enabled
            else None
        )
        self.health_metrics = HealthMetrics(namespace)
        self.registry.register(self.health_metrics)
        self.loop_lag: LoopLagMonitor | None = None
        if metrics.enabled and metrics.process:
            register_process_collectors(self.registry)
            self.loop_lag = LoopLagMonitor(
                self.registry, namespace=namespace, interval=metrics.loop_lag_interval
            )
        self.operator = (
            OperatorSurface(settings.operator, ctx) if settings.operator.enabled else None
        )
        self.leak_watch = (
            LeakWatch(settings.leak_watch, ctx) if settings.leak_watch.enabled else None
        )
        self.tracing: AppTracing | None = None
        self.traces_outgoing_http = False
        self.started = False

    # -- what the middleware reads ------------------------------------------------------

    @property
    def request_metrics(self) -> RequestMetrics | None:
        return self._requests

    @property
    def tracer(self) -> Tracer | None:
        tracing = self.tracing
        if tracing is None:
            return None
        tracing.catch_up()
        return tracing.tracer

    # -- contributions --------------------------------------------------------------------

    @property
    def profiles_requests(self) -> bool:
        """``?profile=1`` answers with a profile: asked for, and only in development."""
        return self.settings.profile_requests and self.ctx.env == "development"

    def middleware(self) -> Sequence[Middleware]:
        """The request layer, just outside the edge (see :mod:`.asgi` for why), and the
        per-request profiler outside everything when it is on."""
        layers: list[Middleware] = []
        if self.profiles_requests:
            layers.append(
                Middleware("request-profiler", RequestProfiler, before=["observability", "edge"])
            )
        if self.settings.metrics.enabled or self.settings.tracing.exporter != "none":
            layers.append(
                Middleware(
                    "observability",
                    ObservabilityMiddleware,
                    options={"instruments": self},
                    before=["edge"],
                )
            )
        return layers

    def router(self) -> APIRouter | None:
        """``GET <metrics.path>`` (the exposition text, health families refreshed first)
        and the operator endpoints when they are on."""
        settings = self.settings.metrics
        if not settings.enabled and self.operator is None:
            return None
        router = APIRouter()
        if self.operator is not None:
            router.include_router(self.operator.router())
        if not settings.enabled:
            return router

        @router.get(settings.path, include_in_schema=False)
        async def metrics(request: Request) -> Response:
            if settings.access == "loopback" and (
                request.client is None or request.client.host not in LOOPBACK
            ):
                raise HTTPException(status_code=404)
            return Response(await self.exposition(), media_type=CONTENT_TYPE_LATEST)

        return router

    async def exposition(self) -> bytes:
        """The metrics text, health families refreshed first (web and worker alike)."""
        await self.health_metrics.refresh(self.ctx.app, self.settings.metrics.health_timeout)
        return bytes(generate_latest(self.registry))

    def process_roles(self) -> Mapping[str, ProcessRole]:
        """With ``metrics.worker_port``: the worker also serves metrics and health there."""
        metrics = self.settings.metrics
        if not metrics.enabled or metrics.worker_port is None:
            return {}
        role = WorkerMetricsRole(
            self.ctx,
            host=metrics.worker_host,
            port=metrics.worker_port,
            exposition=self.exposition,
            loopback_only_metrics=metrics.access == "loopback",
        )
        return {WORKER_ROLE: role}

    def dashboard_panels(self) -> Sequence[DashboardPanel]:
        """The startup timeline (which instance made the last start slow) and the
        process's runtime figures, leak watch and changed log levels."""
        panels = [
            DashboardPanel("Startup timeline", self._timeline_panel),
            DashboardPanel("Runtime", self._runtime_panel),
        ]
        if self.operator is not None and self.ctx.env == "development":
            panels.append(DashboardPanel("Profile", self._profile_panel))
        return panels

    async def _profile_panel(self, limit: int) -> PanelTable:
        """The last profile of this process by pattern (taken through the operator surface)."""
        assert self.operator is not None
        path = self.settings.operator.path
        last = self.operator.profiler.last
        if last is None:
            note = f"no profile yet: POST {path}/profile?seconds=10 samples this process"
            return PanelTable(("owner", "pattern", "seconds", "share"), [], note)
        rows = [
            [row["owner"], row["pattern"] or "-", f"{row['seconds']:.3f}", f"{row['share']:.1%}"]
            for row in last.rows()
        ]
        note = f"{last.seconds:g} s sampled; the report: GET {path}/profile.html"
        return PanelTable(("owner", "pattern", "seconds", "share"), rows[:limit], note)

    async def _runtime_panel(self, limit: int) -> PanelTable:
        rows = [list(row) for row in runtime_rows(self.registry, self.namespace)]
        if self.leak_watch is not None:
            findings = self.leak_watch.findings
            rows.append(
                ["leak watch", "suspects " + ", ".join(findings) if findings else "no growth"]
            )
        if self.operator is not None:
            changed = self.operator.levels.changed()
            rows.append(
                [
                    "log levels changed at runtime",
                    ", ".join(f"{name}={level}" for name, level in changed.items()) or "none",
                ]
            )
        note = "" if rows else "process metrics are off (metrics.process = false)"
        return PanelTable(("measure", "value"), rows[:limit], note)

    async def _timeline_panel(self, limit: int) -> PanelTable:
        timeline = self.ctx.app.timeline
        rows = [
            [
                timing.instance,
                timing.pattern,
                *(
                    "-" if value is None else f"{value:.1f}"
                    for value in (
                        timing.import_ms if timing.factory_module else None,
                        timing.build_ms,
                        timing.start_ms,
                        timing.stop_ms,
                        timing.total_ms,
                    )
                ),
                ", ".join(timing.imported[:4]),
            ]
            for timing in timeline.instances[:limit]
        ]
        ready = timeline.ready_ms
        note = (
            f"start took {ready:.1f} ms; slowest: {', '.join(timeline.summary(3))}"
            if ready is not None
            else "not started yet"
        )
        return PanelTable(
            (
                "instance",
                "pattern",
                "import ms",
                "build ms",
                "start ms",
                "stop ms",
                "total ms",
                "libraries first imported",
            ),
            rows,
            note,
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.operator is not None:
            self.operator.guard.check_reachable()
        self._check_request_profiling()
        tracing_settings = self.settings.tracing
        if tracing_settings.exporter == "none":
            self.ctx.services.register(Tracing, NoTracing())
        else:
            tracing = AppTracing(
                tracing_settings,
                service_name=tracing_settings.service_name or self.ctx.config.name,
                environment=self.ctx.env,
                settle=self.settle,
            )
            self.tracing = tracing
            self.settle()
            add_processor(add_trace_ids)
            self._trace_outgoing_http(tracing)
            self.ctx.services.register(Tracing, tracing)
        if self.loop_lag is not None:
            self.loop_lag.start()
        if self.leak_watch is not None:
            self.leak_watch.start()
        self.started = True
        self.ctx.log.info(
            "observability.started",
            metrics=self.settings.metrics.path if self.settings.metrics.enabled else None,
            tracing=tracing_settings.exporter,
        )

    def _check_request_profiling(self) -> None:
        if not self.settings.profile_requests:
            return
        if not self.profiles_requests:
            self.ctx.log.warning(
                "observability.profile_requests_ignored",
                profile=self.ctx.env,
                detail="profile_requests works in development only: it would let anyone "
                "profile the app",
            )
            return
        try:
            import pyinstrument  # noqa: F401  (the middleware imports it per profiled request)
        except ModuleNotFoundError as exc:
            raise StartupError(
                "profile_requests needs pyinstrument, which is not installed",
                pattern_id=self.ctx.instance,
                hint="pip install 'rainmaker-patterns[profiling]'",
                cause=exc,
            ) from exc

    def settle(self) -> bool:
        """Instrument the database engines not instrumented yet; ``True`` once every
        instance has started (no engine can appear any more)."""
        tracing = self.tracing
        if tracing is None:
            return True
        done = tracing.instrumented
        for instance, database in list(self.ctx.app.providers(Database).items()):
            engine = getattr(database, "engine", None)
            if engine is not None and id(engine.sync_engine) not in done:
                tracing.instrument_engine(engine, instance=instance, system=_db_system(database))
        return self.ctx.app.state not in ("created", "starting")

    def _trace_outgoing_http(self, tracing: AppTracing) -> None:
        """Outgoing HTTP spans, when OpenTelemetry's httpx instrumentation is installed."""
        if not httpx_available():
            self.ctx.log.debug(
                "observability.httpx_not_traced",
                hint="install opentelemetry-instrumentation-httpx to trace outgoing requests",
            )
            return
        self.traces_outgoing_http = outgoing_http.join(tracing.provider)
        if not self.traces_outgoing_http:
            self.ctx.log.info(
                "observability.httpx_instrumented_elsewhere",
                detail="httpx was instrumented before this app started; left as it is",
            )

    async def stop(self) -> None:
        self.started = False
        if self.operator is not None:
            self.operator.stop()
        if self.loop_lag is not None:
            await self.loop_lag.stop()
        if self.leak_watch is not None:
            await self.leak_watch.stop()
        tracing, self.tracing = self.tracing, None
        if tracing is not None:
            if self.traces_outgoing_http:
                outgoing_http.leave(tracing.provider)
                self.traces_outgoing_http = False
            tracing.shutdown()

    async def health(self) -> Health:
        settings = self.settings
        if not self.started:
            return Health.down(reason="not started")
        details: dict[str, Any] = {
            "metrics": settings.metrics.path if settings.metrics.enabled else None,
            "tracing": settings.tracing.exporter,
        }
        suspected = self.leak_watch.health_details() if self.leak_watch is not None else {}
        if suspected:
            return Health.degraded(**details, **suspected)
        return Health.up(**details)


def _db_system(database: Any) -> str:
    backend = str(getattr(database, "backend", "sql"))
    return {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}.get(
        backend, backend
    )
