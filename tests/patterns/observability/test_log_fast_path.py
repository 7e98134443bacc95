"""With tracing on, the access log's fast path (ResolvedLogger.emit) still writes the line
structlog would, trace ids included: the trace-id processor no longer turns it off."""

from __future__ import annotations

import io
import sys

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider

from rainmaker.kernel import logging as kernel_logging
from rainmaker.kernel.logging import add_processor, configure_logging
from rainmaker.kernel.logging_batch import drain_all
from rainmaker.patterns.observability.tracing import add_trace_ids


def test_emit_with_the_trace_id_processor_writes_the_line_structlog_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fixed_time(_logger: object, _method: str, event: dict[str, object]) -> object:
        event["timestamp"] = "2026-12-01T00:00:00.000000Z"
        return event

    monkeypatch.setattr(kernel_logging, "_add_timestamp", fixed_time)
    add_processor(add_trace_ids)  # as the observability pattern does when tracing is on
    raw = io.BytesIO()
    real_stderr, sys.stderr = sys.stderr, io.TextIOWrapper(raw, write_through=True)
    try:
        configure_logging(fmt="json")
    finally:
        sys.stderr = real_stderr
    assert kernel_logging._json_chain is not None  # the fast path is in force
    log = kernel_logging.ResolvedLogger(structlog.get_logger().bind(app="a", instance="http"))

    def fields() -> dict[str, object]:
        return {"method": "GET", "path": "/x", "status": 200, "duration_ms": 1.5}

    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request"):
        log.emit("info", "http.request", fields())
        log.get().info("http.request", **fields())
    log.emit("info", "http.request", fields())  # no current span: no trace ids
    log.get().info("http.request", **fields())
    # A processor writing a bound key takes structlog's path, which lets it see the key.
    log = kernel_logging.ResolvedLogger(structlog.get_logger().bind(trace_id="bound"))
    with tracer.start_as_current_span("request"):
        log.emit("info", "http.request", fields())
        log.get().info("http.request", **fields())
    drain_all()
    lines = raw.getvalue().splitlines()
    assert len(lines) == 6
    assert lines[0] == lines[1] and b'"trace_id":' in lines[0] and b'"span_id":' in lines[0]
    assert lines[2] == lines[3] and b"trace_id" not in lines[2]
    assert lines[4] == lines[5] and b'"trace_id":"bound"' in lines[4]
