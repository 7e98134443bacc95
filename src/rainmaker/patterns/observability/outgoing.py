"""Outgoing HTTP spans: OpenTelemetry's httpx instrumentation, shared by the apps of a process.

``HTTPXClientInstrumentor`` patches httpx's transports process-wide, with one tracer
provider. Several apps may trace in one process (tests, embedding), each with its own
provider, so the apps that want outgoing spans queue up here: the first one's provider
is used, and when it stops the instrumentation moves to the next one's (never to a
provider that is shut down), and is removed when the last one stops. An instrumentation
the app's own code set up (before any of ours) is left alone.

Client spans are children of the current span (the request or job being handled) and
carry the method, the URL without credentials and the status, as the instrumentation
records them; ``traceparent`` is injected so the callee continues the trace.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

_MODULE = "opentelemetry.instrumentation.httpx"


def available() -> bool:
    """Whether opentelemetry-instrumentation-httpx is installed."""
    try:
        return importlib.util.find_spec(_MODULE) is not None
    except ModuleNotFoundError:  # not even opentelemetry.instrumentation
        return False


class _OutgoingHttp:
    """The process-wide httpx instrumentation and the providers waiting to own it."""

    def __init__(self) -> None:
        self.users: list[TracerProvider] = []
        self.owned = False  # whether the current instrumentation is ours

    def _instrumentor(self) -> Any:
        module: Any = importlib.import_module(_MODULE)
        return module.HTTPXClientInstrumentor()

    def join(self, provider: TracerProvider) -> bool:
        """Trace outgoing requests with ``provider`` (now, or once the apps before it stop).

        ``False`` when httpx is already instrumented by someone else: then nothing changes.
        """
        instrumentor = self._instrumentor()
        if not self.users and instrumentor.is_instrumented_by_opentelemetry:
            return False
        self.users.append(provider)
        if len(self.users) == 1:
            instrumentor.instrument(tracer_provider=provider)
            self.owned = True
        return True

    def leave(self, provider: TracerProvider) -> None:
        """Stop using ``provider``: hand the instrumentation on, or remove it."""
        if provider not in self.users:
            return
        was_owner = self.users[0] is provider
        self.users.remove(provider)
        if not was_owner or not self.owned:
            return
        instrumentor = self._instrumentor()
        instrumentor.uninstrument()
        self.owned = False
        if self.users:
            instrumentor.instrument(tracer_provider=self.users[0])
            self.owned = True


outgoing_http = _OutgoingHttp()
