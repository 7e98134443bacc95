"""Settings of the ``framework-fastapi`` pattern (the ``[patterns.<http>]`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from rainmaker import Settings


class CorsSettings(Settings):
    """Cross-origin resource sharing; off unless ``allow_origins`` names an origin."""

    allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser, e.g. "
        "'https://app.example.com'; '*' allows any. Empty turns CORS off.",
    )
    allow_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        description="HTTP methods allowed in cross-origin requests.",
    )
    allow_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "X-Request-ID"],
        description="Request headers allowed in cross-origin requests.",
    )
    expose_headers: list[str] = Field(
        default_factory=lambda: ["X-Request-ID", "Retry-After"],
        description="Response headers a browser script may read.",
    )
    allow_credentials: bool = Field(
        False, description="Allow cookies and Authorization headers on cross-origin requests."
    )
    max_age: int = Field(600, ge=0, description="Seconds a browser may cache a preflight answer.")


class SecurityHeadersSettings(Settings):
    """Response headers that harden browsers' handling of the API's answers."""

    enabled: bool = Field(True, description="Add the security headers to every response.")
    content_security_policy: str | None = Field(
        "default-src 'none'; frame-ancestors 'none'",
        description="Content-Security-Policy for API responses (the docs page sends its "
        "own, serving Swagger UI from this server). None leaves it out.",
    )
    hsts_max_age: int = Field(
        0,
        ge=0,
        description="Strict-Transport-Security max-age in seconds; 0 leaves the header out. "
        "Set it in profiles that are only served over HTTPS.",
    )
    referrer_policy: str = Field("no-referrer", description="Referrer-Policy header value.")


class HealthSettings(Settings):
    """Liveness, readiness and per-pattern health routes."""

    path: str = Field(
        "/health",
        pattern=r"^/[A-Za-z0-9/_-]*[A-Za-z0-9_-]$",
        description="Base path: <path>/live, <path>/ready and <path> (the detail).",
    )
    detail: Literal["public", "loopback", "off"] = Field(
        "loopback",
        description="Who may read the per-pattern detail at <path> (it shows file paths, "
        "pool sizes and queue depths): only clients on 127.0.0.1/::1 that came through no "
        "proxy (e.g. an operator's shell or a sidecar; the default), anyone ('public'), or "
        "nobody ('off': the route is not mounted). Readiness at <path>/ready stays public.",
    )


class ShutdownSettings(Settings):
    """Graceful shutdown under ``rainmaker run`` (SIGTERM/SIGINT)."""

    delay: float = Field(
        5.0,
        ge=0,
        description="Seconds between the signal and closing the listening socket. Readiness "
        "answers 503 meanwhile, so a load balancer stops sending new traffic.",
    )
    timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds in-flight requests may take to finish once the socket is closed; "
        "connections still open after that are cut.",
    )


class ServerSettings(Settings):
    """Limits of the HTTP server under ``rainmaker run``, against slow and bloated clients."""

    head_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's line and headers; slower "
        "clients get 408 and are disconnected (and silent connections are closed).",
    )
    max_head_size: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request line plus headers, in bytes; larger ones get 431.",
    )
    body_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a request body may pause between chunks before the connection "
        "is closed (a stalled upload, or a client holding a worker slot).",
    )


class HttpSettings(Settings):
    """Settings of the ``framework-fastapi`` pattern."""

    title: str | None = Field(
        None, description="API title in the OpenAPI document; defaults to the app's name."
    )
    version: str = Field("0.1.0", description="API version in the OpenAPI document.")
    openapi_url: str | None = Field(
        "/openapi.json", description="Where the OpenAPI document is served; None hides it."
    )
    docs_url: str | None = Field(
        "/docs",
        description="Where the interactive docs page (Swagger UI, served from the "
        "installed package: no CDN) is served; None hides it (it also needs openapi_url).",
    )
    max_body_size: int = Field(
        1_048_576,
        ge=0,
        description="Largest request body accepted, in bytes; larger ones get 413.",
    )
    trusted_hosts: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Host header values served, e.g. 'api.example.com' or '*.example.com'; "
        "'*' serves any (a warning outside the development profile). Other hosts get 400.",
    )
    request_id_header: str = Field(
        "X-Request-ID",
        pattern=r"^[A-Za-z0-9-]+$",
        description="Header carrying the request id: honoured on requests when well-formed "
        "(1-128 characters of letters, digits and ._:-), generated otherwise, always echoed.",
    )
    access_log: bool = Field(True, description="Log one structured event per request.")
    fastapi_telemetry: bool = Field(
        False,
        description="FastAPI's own OpenTelemetry instrumentation, against the global "
        "OpenTelemetry providers. Off: the observability pattern traces and measures "
        "requests itself (its own providers), and FastAPI's checks of the global providers "
        "cost every request a few microseconds. On for an app that sets global providers "
        "itself and wants FastAPI's spans and metrics.",
    )
    problem_type_base: str = Field(
        "urn:rainmaker:problem:",
        description="Prefix of the 'type' URI of problem+json bodies; the error code follows. "
        "Point it at your error documentation, e.g. 'https://docs.example.com/errors/'.",
    )
    cors: CorsSettings = Field(default_factory=CorsSettings, description="CORS settings.")
    security_headers: SecurityHeadersSettings = Field(
        default_factory=SecurityHeadersSettings, description="Security response headers."
    )
    health: HealthSettings = Field(default_factory=HealthSettings, description="Health routes.")
    shutdown: ShutdownSettings = Field(
        default_factory=ShutdownSettings, description="Graceful shutdown under `rainmaker run`."
    )
    server: ServerSettings = Field(
        default_factory=ServerSettings,
        description="Request head and body time limits and head size limit under `rainmaker run`.",
    )

    def configuration_warnings(self, profile: str) -> list[str]:
        """What is insecure about these settings in ``profile`` (each a sentence with the fix).

        ``rainmaker check`` prints them and the module logs them at start: they are legal
        (a development machine needs them) but wrong for a deployed app.
        """
        found = wildcard_hosts_warning(self.trusted_hosts, profile)
        warnings = [found] if found else []
        if profile != "development" and self.health.detail == "public":
            warnings.append(
                f"health.detail is 'public' in the {profile!r} profile: anyone can read every "
                "pattern's details (paths, pool sizes, queue depths); use 'loopback' or 'off'"
            )
        return warnings


def wildcard_hosts_warning(hosts: Sequence[str], profile: str) -> str | None:
    """The warning for serving any ``Host`` outside development, else ``None``."""
    if profile == "development" or "*" not in hosts:
        return None
    return (
        f"trusted_hosts is '*' in the {profile!r} profile: any Host header is served, so "
        "cache keys and absolute URLs built from it can be poisoned; list the public "
        'names, e.g. trusted_hosts = ["api.example.com"]'
    )
