"""The request layer: times and counts each HTTP request and wraps it in a server span.

Pure ASGI (see ``bench/http`` for why): one ``send`` closure reads the status; after the
app has answered, the route template is read from ``scope["route"]``, which the router
sets on the very scope dict it was given, so labels and span names carry
``/items/{item_id}``, never the raw path. FastAPI puts the route object its router built
there, whose path lacks the prefix of an ``include_router``; the prefixed template comes
from the app's ``fastapi.routing.iter_route_contexts`` (see :func:`route_template`).

It runs just *outside* the HTTP pattern's edge layer (``before=["edge"]``), not inside:
the edge writes the access log line and turns escaped errors into 500 answers on the way
out, and both must happen inside the request's span to carry its trace id. The request
id is still known: the edge stores it in ``scope["state"]``, which this layer reads once
the request is done. Requests the edge rejects (413) are counted too.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from typing import Any, Protocol

from fastapi.routing import iter_route_contexts
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rainmaker.capabilities.http import HttpApp, Message, Receive, Scope, Send
from rainmaker.patterns.observability.metrics import UNMATCHED, RequestMetrics

_propagator = TraceContextTextMapPropagator()
_ROOT = otel_context.Context()  # the parent of a request that came without a traceparent


class _HeaderGetter(Getter[Mapping[str, str]]):
    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


_getter = _HeaderGetter()


def route_template(scope: Scope, root_path: str) -> str:
    """The matched route's template, with the prefix of any mount it sits under.

    ``scope["route"]`` is the route as its router built it: for a router the app includes
    with ``include_router(router, prefix=...)``, its own path lacks that prefix, so the
    path comes from the app's route contexts (FastAPI's public ``iter_route_contexts``),
    which carry it.
    """
    return _template(scope, root_path)[0]


def _template(scope: Scope, root_path: str) -> tuple[str, bool]:
    """:func:`route_template`, and whether it holds for every request to that route (one
    router included under several prefixes: it depends on the request's path)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED, True
    path, unique = _included_path(scope, route, path)
    mounted = scope.get("root_path", "")
    if mounted.startswith(root_path):
        path = f"{mounted[len(root_path) :]}{path}"
    return path, unique


# Per app: its number of top-level routes when read, and id(route) -> [(route, full path)],
# the routes weakly referenced (an endpoint may hold the app, which must not be kept alive).
_Paths = dict[int, list[tuple["weakref.ref[Any]", str]]]
_included_paths: weakref.WeakKeyDictionary[Any, tuple[int, _Paths]] = weakref.WeakKeyDictionary()


def _included_path(scope: Scope, route: Any, path: str) -> tuple[str, bool]:
    app = scope.get("app")
    routes = getattr(app, "routes", None)
    if not isinstance(routes, list):
        return path, True
    try:
        known = _included_paths.get(app)
        if known is None or known[0] != len(routes):
            table: _Paths = {}
            for context in iter_route_contexts(routes):
                full = context.path
                if isinstance(full, str):
                    original = context.original_route
                    table.setdefault(id(original), []).append((weakref.ref(original), full))
            known = (len(routes), table)
            _included_paths[app] = known
    except TypeError:  # an app object that cannot be weakly referenced
        return path, True
    candidates = [full for ref, full in known[1].get(id(route), ()) if ref() is route]
    if len(candidates) == 1:
        return candidates[0], True
    # One router included under several prefixes: the one the request's path is under.
    request_path = scope.get("path", "")[len(scope.get("root_path", "")) :]
    for full in candidates:
        literal = full.split("{", 1)[0]
        if request_path.startswith(literal):
            return full, False
    return path, not candidates


class RouteTemplates:
    """:func:`route_template`, remembered per route, mount and number of app routes.

    Reading the template from the app's route contexts costs more than the rest of the
    request layer together; a route's template only changes when the app's routes do
    (which the number of them stands for, as in :func:`_included_path`). Kept per
    middleware, so per app, holding routes the app holds anyway.
    """

    LIMIT = 4096  # more distinct routes and mounts than an app has: stop remembering

    def __init__(self) -> None:
        self._known: dict[tuple[int, str, str], tuple[Any, int, str]] = {}

    def of(self, scope: Scope, root_path: str) -> str:
        """The template of the route ``scope`` matched (:data:`UNMATCHED` for none)."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        routes = getattr(scope.get("app"), "routes", None)
        count = len(routes) if isinstance(routes, list) else -1
        key = (id(route), root_path, scope.get("root_path", ""))
        known = self._known.get(key)
        if known is not None and known[0] is route and known[1] == count:
            return known[2]
        template, unique = _template(scope, root_path)
        if unique and len(self._known) < self.LIMIT:
            self._known[key] = (route, count, template)
        return template


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
        self.templates = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One coroutine per request (no helper awaited per configuration): this layer's
        # own cost is what the observability benchmark compares.
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.instruments.request_metrics
        tracer = self.instruments.tracer
        root_path = scope.get("root_path", "")
        method: str = scope["method"]
        span = _start_span(tracer, scope, method) if tracer is not None else None
        token = None if span is None else otel_context.attach(trace.set_span_in_context(span))
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
            if span is not None and span.is_recording():
                span.record_exception(error)
            raise
        finally:
            seconds = time.perf_counter() - began
            route = self.templates.of(scope, root_path)
            if metrics is not None:
                metrics.record(method, route, status, seconds)
            if span is not None:
                _finish(span, scope, method, route, status)
                otel_context.detach(token)  # type: ignore[arg-type]  # set with the span


def _start_span(tracer: Tracer, scope: Scope, method: str) -> Span:
    """The request's server span: a child of the caller's ``traceparent``, else a root."""
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in (b"traceparent", b"tracestate")
    }
    parent = _propagator.extract(headers, getter=_getter) if "traceparent" in headers else _ROOT
    # With no traceparent the parent is an empty context, never the current one: the
    # caller said nothing, so the request starts a trace (and the SDK reads no context
    # variable to find that out).
    return tracer.start_span(
        method,
        context=parent,
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
        },
    )


def _finish(span: Any, scope: Scope, method: str, route: str, status: int) -> None:
    if not span.is_recording():
        # A request the sampler left out: its span records nothing, so skip building
        # what it would drop (the common case at a low sample ratio).
        span.end()
        return
    # One set_attributes call: the SDK takes its span lock and checks the span once,
    # not once per attribute.
    attributes: dict[str, Any] = {}
    if route != UNMATCHED:
        span.update_name(f"{method} {route}")
        attributes["http.route"] = route
    attributes["http.response.status_code"] = status
    state = scope.get("state")
    if isinstance(state, Mapping) and "request_id" in state:
        attributes["rainmaker.request_id"] = str(state["request_id"])
    span.set_attributes(attributes)
    if status >= 500 or status == 0:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
