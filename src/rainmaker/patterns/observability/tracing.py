"""OpenTelemetry tracing of one app: its tracer provider, database spans and log correlation.

Each app builds its own :class:`~opentelemetry.sdk.trace.TracerProvider` (the global one
is set once per process, and several apps may share a process) and hands its tracer to
the ASGI middleware, the database listeners and, as the ``Tracing`` capability
(:class:`AppTracing` is a :class:`~rainmaker.capabilities.tracing.SpanTracer`), to the
patterns that trace their own operations (cache, storage, jobs). The *current span*, though, is
OpenTelemetry's context variable, so :func:`add_trace_ids` reads it without knowing the
app, and a child span started by a listener finds its parent whatever created it.

Database spans come from SQLAlchemy's cursor events on each database's engine (one
engine per database instance, shared by every pattern that uses it): one span per
statement, with the statement text but never its parameters.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Attributes, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from rainmaker.capabilities.tracing import AttributeValue
from rainmaker.capabilities.tracing import SpanKind as SpanKindName
from rainmaker.patterns.observability.settings import TracingSettings

INSTRUMENTATION = "rainmaker.observability"
_SPAN_KEY = "_rainmaker_span"
_KINDS: dict[str, SpanKind] = {
    "internal": SpanKind.INTERNAL,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
_propagator = TraceContextTextMapPropagator()


def build_exporter(settings: TracingSettings) -> SpanExporter | None:
    """The exporter the settings name; ``None`` when tracing is off."""
    if settings.exporter == "console":
        return ConsoleSpanExporter(out=sys.stdout)
    if settings.exporter == "otlp-http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(
            endpoint=settings.endpoint,
            headers=dict(settings.headers),
            timeout=settings.export_timeout,
        )
    return None


class HashedOnceResource(Resource):
    """A :class:`~opentelemetry.sdk.resources.Resource` whose hash is computed once.

    The OTLP encoder groups the spans of every batch by their resource, hashing it once
    per span, and ``Resource`` hashes by rendering its attributes as sorted JSON: several
    microseconds per exported span, a fifth of the export's cost in ``bench/observability``.
    A resource's attributes cannot change (they are immutable), so neither can its hash.
    """

    def __init__(self, attributes: Attributes, schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    @classmethod
    def of(cls, resource: Resource) -> HashedOnceResource:
        """``resource`` with the same attributes and schema URL, hashed once."""
        return cls(resource.attributes, resource.schema_url)

    def __hash__(self) -> int:
        return self._hash


class AppTracing:
    """The tracer provider of one app, the engines it instruments, and the ``Tracing`` service.

    ``settle``, when given, is called before each pattern span until it returns ``True``:
    the module uses it to instrument database engines that started after it (see
    :meth:`~rainmaker.patterns.observability.module.ObservabilityModule.settle`).
    """

    def __init__(
        self,
        settings: TracingSettings,
        *,
        service_name: str,
        environment: str,
        settle: Callable[[], bool] | None = None,
    ) -> None:
        self.provider = TracerProvider(
            resource=HashedOnceResource.of(
                Resource.create(
                    {"service.name": service_name, "deployment.environment": environment}
                )
            ),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        exporter = build_exporter(settings)
        if exporter is not None:
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer: Tracer = self.provider.get_tracer(INSTRUMENTATION)
        self._engines: list[tuple[Any, DatabaseListener]] = []
        self._settle = settle

    # -- the Tracing capability (SpanTracer) ------------------------------------------------

    @property
    def enabled(self) -> bool:
        return True

    def catch_up(self) -> None:
        """Run ``settle`` until it reports the app started (one check afterwards)."""
        if self._settle is not None and self._settle():
            self._settle = None

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKindName = "internal",
        parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[Span]:
        """One operation as the current span (see ``SpanTracer.span``)."""
        if self._settle is not None and self._settle():
            self._settle = None
        return self.tracer.start_as_current_span(
            name,
            context=_propagator.extract(parent) if parent else None,
            kind=_KINDS[kind],
            attributes=attributes,
        )

    def carrier(self) -> dict[str, str]:
        """The current span's context as W3C trace-context headers."""
        headers: dict[str, str] = {}
        _propagator.inject(headers)
        return headers

    # -- databases ----------------------------------------------------------------------------

    @property
    def instrumented(self) -> frozenset[int]:
        """``id()`` of every sync engine instrumented so far."""
        return frozenset(id(engine) for engine, _ in self._engines)

    def instrument_engine(self, engine: AsyncEngine, *, instance: str, system: str) -> None:
        """Trace every statement ``engine`` runs (until :meth:`shutdown`)."""
        listener = DatabaseListener(self.tracer, instance=instance, system=system)
        listener.attach(engine.sync_engine)
        self._engines.append((engine.sync_engine, listener))

    def shutdown(self) -> None:
        """Detach the listeners, then flush and stop the exporter."""
        for sync_engine, listener in self._engines:
            listener.detach(sync_engine)
        self._engines.clear()
        self.provider.shutdown()


class NoTracing:
    """The ``Tracing`` service while tracing is off: records nothing, and says so."""

    @property
    def enabled(self) -> bool:
        return False

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKindName = "internal",
        parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[Span]:
        return nullcontext(trace.INVALID_SPAN)

    def carrier(self) -> dict[str, str]:
        return {}


class DatabaseListener:
    """SQLAlchemy cursor events turned into client spans."""

    def __init__(self, tracer: Tracer, *, instance: str, system: str) -> None:
        self.tracer = tracer
        self.attributes = {"db.system": system, "rainmaker.instance": instance}

    def attach(self, sync_engine: Any) -> None:
        event.listen(sync_engine, "before_cursor_execute", self.before)
        event.listen(sync_engine, "after_cursor_execute", self.after)
        event.listen(sync_engine, "handle_error", self.failed)

    def detach(self, sync_engine: Any) -> None:
        event.remove(sync_engine, "before_cursor_execute", self.before)
        event.remove(sync_engine, "after_cursor_execute", self.after)
        event.remove(sync_engine, "handle_error", self.failed)

    def before(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is None or not trace.get_current_span().get_span_context().is_valid:
            # Only statements inside a request, job or pattern span: a worker's polling query
            # would otherwise make a root trace every poll interval.
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = self.tracer.start_span(
            f"db {operation}",
            kind=SpanKind.CLIENT,
            attributes={
                **self.attributes,
                "db.operation.name": operation,
                "db.query.text": statement,
            },
        )
        setattr(context, _SPAN_KEY, span)

    def after(
        self, _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN_KEY, None)

    def failed(self, exception_context: Any) -> None:
        context = exception_context.execution_context
        span = getattr(context, _SPAN_KEY, None) if context is not None else None
        if span is not None:
            error = exception_context.original_exception
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.set_attribute("error.type", type(error).__name__)
            span.end()
            setattr(context, _SPAN_KEY, None)


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: ``trace_id`` and ``span_id`` of the current span, when recording."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict
