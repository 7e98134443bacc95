"""The request layer: times and counts each HTTP request and wraps it in a server span.

Pure ASGI (see ``bench/http`` for why): one ``send`` closure reads the status; after the
app has answered, the route template is read from ``scope["route"]``, which the router
sets on the very scope dict it was given, so labels and span names carry
``/items/{item_id}``, never the raw path.

It runs just *outside* the HTTP pattern's edge layer (``before=["edge"]``), not inside:
the edge writes the access log line and turns escaped errors into 500 answers on the way
out, and both must happen inside the request's span to carry its trace id. The request
id is still known: the edge stores it in ``scope["state"]``, which this layer reads once
the request is done. Requests the edge rejects (413) are counted too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rainmaker.capabilities.http import HttpApp, Message, Receive, Scope, Send
from rainmaker.patterns.observability.metrics import UNMATCHED, RequestMetrics

_propagator = TraceContextTextMapPropagator()


class _HeaderGetter(Getter[Mapping[str, str]]):
    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


_getter = _HeaderGetter()


def route_template(scope: Scope, root_path: str) -> str:
    """The matched route's template, with the prefix of any mount it sits under."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    mounted = scope.get("root_path", "")
    return f"{mounted[len(root_path):]}{path}" if mounted.startswith(root_path) else path


class Instruments(Protocol):
    """Where the middleware finds its metrics and tracer, read on every request.

    The HTTP pattern composes the middleware stack before this pattern starts (even for
    ``rainmaker routes``, which starts nothing), while the tracer exists only once the
    pattern has started: so the layer holds the module, not the tracer.
    """

    @property
    def request_metrics(self) -> RequestMetrics | None: ...

    @property
    def tracer(self) -> Tracer | None: ...


class ObservabilityMiddleware:
    """Counts and times requests and traces them, as ``instruments`` say at the time."""

    def __init__(self, app: HttpApp, *, instruments: Instruments) -> None:
        self.app = app
        self.instruments = instruments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracer = self.instruments.tracer
        if tracer is None:
            await self._measured(scope, receive, send)
        else:
            await self._traced(scope, receive, send, tracer)

    async def _measured(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.instruments.request_metrics
        root_path = scope.get("root_path", "")
        began = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            status = status or 500
            raise
        finally:
            if metrics is not None:
                metrics.record(
                    scope["method"],
                    route_template(scope, root_path),
                    status,
                    time.perf_counter() - began,
                )

    async def _traced(self, scope: Scope, receive: Receive, send: Send, tracer: Tracer) -> None:
        metrics = self.instruments.request_metrics
        root_path = scope.get("root_path", "")
        method: str = scope["method"]
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        parent = _propagator.extract(headers, getter=_getter) if headers else None
        span = tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        began = time.perf_counter()
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as error:
            status = status or 500
            span.record_exception(error)
            raise
        finally:
            route = route_template(scope, root_path)
            if metrics is not None:
                metrics.record(method, route, status, time.perf_counter() - began)
            _finish(span, scope, method, route, status)
            otel_context.detach(token)


def _finish(span: Any, scope: Scope, method: str, route: str, status: int) -> None:
    if route != UNMATCHED:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    state = scope.get("state")
    if isinstance(state, Mapping) and "request_id" in state:
        span.set_attribute("rainmaker.request_id", str(state["request_id"]))
    if status >= 500 or status == 0:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
