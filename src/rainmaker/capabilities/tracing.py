"""The ``Tracing`` capability: spans around the work a pattern does, when tracing is on.

The ``observability`` pattern provides it; patterns that do I/O worth tracing (cache,
storage, jobs…) require it optionally and look it up once in ``start``::

    requires=[Tracing.optional()]          # in the Pattern declaration

    async def start(self) -> None:
        service = MyService(...)
        tracer = self.ctx.services.get(Tracing)
        if tracer is not None and tracer.enabled:
            service = TracedService(service, tracer)
        self.ctx.services.register(Thing, service)

Declaring the requirement makes the provider start first (and stop last), so the spans
of a pattern's whole life go somewhere. No provider (``None``) or a provider with tracing
off (``enabled`` false: every provider must register its service, so observability
registers one that records nothing) means: wrap nothing, so an app without tracing pays
nothing, not even a no-op call.

Spans nest by themselves: :meth:`SpanTracer.span` makes its span the current one, so a
cache read inside a request is a child of the request's span. Attributes are what an
operator needs to find a slow or failing call (a cache namespace, a storage key and size,
a job name and attempt); never a cached value, a secret or a job's arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Literal, Protocol

from rainmaker.kernel.capability import Capability

AttributeValue = str | bool | int | float
"""What a span attribute may hold."""

SpanKind = Literal["internal", "client", "producer", "consumer"]
"""OpenTelemetry's span kinds (``server`` is the HTTP request layer's own)."""


class TraceSpan(Protocol):
    """The span :meth:`SpanTracer.span` yields: attributes may be added while it runs."""

    def set_attribute(self, key: str, value: AttributeValue) -> None: ...


class SpanTracer(Protocol):
    """What the ``Tracing`` capability registers."""

    @property
    def enabled(self) -> bool:
        """Whether spans go anywhere; when false, callers should not wrap anything."""
        ...

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
        parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[TraceSpan]:
        """A context manager timing one operation as the current span.

        ``name`` is low-cardinality (``cache.get``, ``jobs.run billing.invoice``), never
        a raw key. The span is a child of the current span, or of ``parent`` when given
        (W3C trace-context headers from :meth:`carrier`, carried by a message). An
        exception escaping the block marks the span as failed and is re-raised.
        """
        ...

    def carrier(self) -> dict[str, str]:
        """The current span's context as W3C headers (``traceparent``, maybe
        ``tracestate``), to carry in a message; empty when no span is recording."""
        ...


Tracing: Capability[SpanTracer] = Capability(
    "Tracing",
    SpanTracer,
    version="1.0",
    description="Spans around pattern operations, exported by the app's tracer.",
)
