"""Declaration of the ``observability`` pattern (light: no prometheus-client, no OpenTelemetry)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.observability.settings import ObservabilitySettings

observability: Pattern[ObservabilitySettings] = Pattern(
    id="observability",
    version="1.0.0",
    name="Metrics and tracing",
    description=(
        "Prometheus metrics at /metrics (requests by route template and status, latency "
        "histograms, per-pattern health, database pool, cache hit ratio, queue depth, job "
        "outcomes) and OpenTelemetry traces (requests, database calls, cache, storage, jobs, "
        "outgoing HTTP) with the trace id in every log line. Each app has its own registry. "
        "Process metrics (memory, CPU, file descriptors, GC, asyncio tasks, event-loop lag) "
        "and, when turned on, operator endpoints: log levels changed at runtime, thread and "
        "task stacks, the startup timeline, the redacted configuration, pattern versions."
    ),
    settings=ObservabilitySettings,
    factory="rainmaker.patterns.observability.module:ObservabilityModule",
    # Patterns that trace their operations require Tracing (optionally), so this starts
    # before them and stops after them; database engines that start later are
    # instrumented once they exist (see ObservabilityModule.settle).
    provides=[Tracing],
    examples=[
        {},
        {"metrics": {"path": "/internal/metrics", "access": "loopback"}},
        {
            "tracing": {
                "exporter": "otlp-http",
                "endpoint": "http://otel-collector:4318/v1/traces",
                "headers": {"authorization": "${OTEL_AUTH_HEADER}"},
                "sample_ratio": 0.25,
            }
        },
    ],
)
