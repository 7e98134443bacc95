"""The access log: one structured event per request, after the response is sent.

The event is ``http.request`` with method, path, status, duration and client; the request
id comes from the structlog contextvars the edge middleware binds, like on every other line
of the request. Server errors log at ``error``; client errors and 503 (a readiness probe
while draining, a backing service down: expected, and reported elsewhere) at ``warning``.
"""

from __future__ import annotations

from structlog.typing import FilteringBoundLogger

from rainmaker import ResolvedLogger
from rainmaker.capabilities.http import Scope


class AccessLog:
    """Writes the ``http.request`` events to a bound structlog logger."""

    __slots__ = ("_log",)

    def __init__(self, log: FilteringBoundLogger) -> None:
        self._log = ResolvedLogger(log)  # resolving the lazy logger per call costs ~20 µs

    def record(self, scope: Scope, status: int, duration_s: float) -> None:
        """Log one finished request (``status`` 0 means no response was sent)."""
        client = scope.get("client")
        if (status >= 500 and status != 503) or status == 0:
            level = "error"
        elif status >= 400:
            level = "warning"
        else:
            level = "info"
        # emit() renders the bound context once and writes the line in a batch: the same
        # line as log.info(...) for about half the cost.
        self._log.emit(
            level,
            "http.request",
            {
                "method": scope.get("method", "WS"),
                "path": scope.get("path", ""),
                "status": status,
                "duration_ms": round(duration_s * 1000, 2),
                "client": client[0] if client else None,
            },
        )
