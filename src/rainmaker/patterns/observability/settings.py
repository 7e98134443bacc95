"""Settings of the ``observability`` pattern (light to import: no metrics or tracing library)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, IPvAnyNetwork, SecretStr, model_validator

from rainmaker import Settings

# Prometheus' defaults, finer below 100 ms where API requests mostly land.
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)


class MetricsSettings(Settings):
    """Prometheus metrics, served in the text exposition format."""

    enabled: bool = Field(
        True,
        description="Serve metrics and count requests; false leaves only tracing.",
        examples=[True],
    )
    path: str = Field(
        "/metrics",
        pattern=r"^/[A-Za-z0-9/_.-]*[A-Za-z0-9_.-]$",
        description="Where Prometheus scrapes the metrics.",
        examples=["/metrics", "/internal/metrics"],
    )
    access: Literal["public", "loopback"] = Field(
        "public",
        description="Who may scrape: anyone, or only clients on 127.0.0.1/::1 (a sidecar "
        "agent); others get 404.",
        examples=["loopback"],
    )
    namespace: str | None = Field(
        None,
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="Prefix of every metric name, e.g. acme_http_requests_total. Unset: "
        "the app's name (as a metric name: lowercase, other characters as '_').",
        examples=["acme"],
    )
    buckets: list[float] = Field(
        default_factory=lambda: list(DEFAULT_BUCKETS),
        min_length=1,
        description="Upper bounds (seconds) of the request latency histogram's buckets.",
        examples=[[0.01, 0.05, 0.1, 0.5, 1.0]],
    )
    process: bool = Field(
        True,
        description="Also serve process metrics: resident memory, CPU, open file "
        "descriptors and GC collections (prometheus_client's collectors, standard names), "
        "the asyncio task count and the event-loop lag.",
        examples=[False],
    )
    loop_lag_interval: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Seconds between two event-loop lag samples (with process = true).",
        examples=[0.5],
    )
    worker_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Port on which `rainmaker worker` serves /metrics and /health/* (its "
        "job outcomes, queue depth and process metrics); unset: the worker serves none.",
        examples=[9464],
    )
    worker_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Interface the worker's metrics port binds: 0.0.0.0 in a container, "
        "so that Prometheus and the probes reach it.",
        examples=["0.0.0.0"],  # noqa: S104 - documents the container case
    )
    health_timeout: float = Field(
        2.0,
        gt=0,
        description="Seconds each pattern's health check may take when a scrape refreshes "
        "the health, pool, cache and queue metrics; a slower one is reported down.",
        examples=[1.0],
    )


class TracingSettings(Settings):
    """OpenTelemetry tracing; off unless an exporter is chosen."""

    exporter: Literal["none", "console", "otlp-http"] = Field(
        "none",
        description="Where finished spans go: nowhere (tracing off, no cost), the console "
        "(stdout, for development) or an OTLP/HTTP collector at endpoint.",
        examples=["otlp-http"],
    )
    endpoint: str | None = Field(
        None,
        description="OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces; "
        "required with exporter = 'otlp-http'.",
        examples=["http://127.0.0.1:4318/v1/traces"],
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers sent to the collector (an API key, say); treated "
        "as secrets.",
        examples=[{"authorization": "${OTEL_AUTH_HEADER}"}],
        json_schema_extra={"secret": True},
    )
    service_name: str | None = Field(
        None,
        description="service.name resource attribute of every span; defaults to the app's name.",
        examples=["acme-api"],
    )
    export_timeout: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Seconds one export to the collector may take (each batch, and the last "
        "flush at shutdown): an unreachable collector delays a stop by about this much, "
        "never more.",
        examples=[2.0],
    )
    sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of new traces recorded (parent-based: a sampled caller's trace "
        "is always continued).",
        examples=[0.1],
    )

    @model_validator(mode="after")
    def _endpoint_for_otlp(self) -> Self:
        if self.exporter == "otlp-http" and not self.endpoint:
            raise ValueError(
                "exporter = 'otlp-http' needs endpoint, e.g. 'http://otel-collector:4318/v1/traces'"
            )
        return self


class OperatorSettings(Settings):
    """Runtime management endpoints: log levels, stack dumps, timeline, config, versions."""

    enabled: bool = Field(
        False,
        description="Serve the operator endpoints under path (off: nothing is mounted).",
        examples=[True],
    )
    path: str = Field(
        "/_operator",
        pattern=r"^/[A-Za-z0-9/_.-]*[A-Za-z0-9_.-]$",
        description="Where the operator endpoints mount.",
        examples=["/_operator", "/internal/operator"],
    )
    token: SecretStr | None = Field(
        None,
        min_length=32,
        description="A bearer token that opens the operator endpoints "
        "(Authorization: Bearer <token>); from the environment, never in the file.",
        examples=["${OPERATOR_TOKEN}"],
    )
    role: str = Field(
        "operator",
        min_length=1,
        description="When a pattern provides Auth: the role whose access tokens open the "
        "operator endpoints.",
        examples=["admin"],
    )
    allow_from: list[IPvAnyNetwork] | None = Field(
        None,
        description="Client networks the endpoints answer (others get 403); by default "
        "loopback only in development and any address in other profiles (the token or "
        "role still applies).",
        examples=[["10.0.0.0/8", "127.0.0.1/32"]],
    )


class LeakWatchSettings(Settings):
    """Sustained growth of memory, tasks or file descriptors, reported in health and logs."""

    enabled: bool = Field(
        False,
        description="Sample RSS, asyncio tasks and open fds every interval; sustained "
        "growth turns this pattern's health degraded and logs a warning.",
        examples=[True],
    )
    interval: float = Field(60.0, gt=0, description="Seconds between two samples.", examples=[30.0])
    window: int = Field(
        10,
        ge=2,
        le=1000,
        description="Samples in a row a measure must rise at for its growth to count as sustained.",
        examples=[6],
    )
    rss_growth_mib: float = Field(
        64.0,
        gt=0,
        description="Resident memory growth over the window that counts.",
        examples=[32.0],
    )
    count_growth: int = Field(
        50,
        gt=0,
        description="Growth of asyncio tasks or open fds over the window that counts.",
        examples=[20],
    )
    tracemalloc_frames: int = Field(
        0,
        ge=0,
        le=100,
        description="Also trace Python allocations with this many stack frames, to name "
        "the pattern modules that grow (0: off; it slows requests, 1 frame about 1.5-2x).",
        examples=[1],
    )
    traced_growth_mib: float = Field(
        8.0,
        gt=0,
        description="Traced growth of one module over the window that counts.",
        examples=[4.0],
    )


class ObservabilitySettings(Settings):
    """Settings of the ``observability`` pattern."""

    metrics: MetricsSettings = Field(
        default_factory=MetricsSettings, description="Prometheus metrics."
    )
    tracing: TracingSettings = Field(
        default_factory=TracingSettings, description="OpenTelemetry tracing."
    )
    profile_requests: bool = Field(
        False,
        description="Development only: answer a request whose query holds profile=1 with "
        "the pyinstrument profile of that request (needs the profiling extra); ignored, "
        "with a warning, in other profiles.",
        examples=[True],
    )
    leak_watch: LeakWatchSettings = Field(
        default_factory=LeakWatchSettings,
        description="Sustained growth of memory, tasks or fds (off by default).",
    )
    operator: OperatorSettings = Field(
        default_factory=OperatorSettings,
        description="Runtime management endpoints (off by default).",
    )
