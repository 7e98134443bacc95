"""The second baseline: FastAPI with the composed app's behaviour, built from common libraries.

What a good engineer adds to a FastAPI service to get what the composed app's edge does:

* request ids: ``asgi-correlation-id``'s ``CorrelationIdMiddleware`` (``X-Request-ID``,
  honoured when it is a valid UUID, generated otherwise, echoed on the response);
* security headers: a pure ASGI middleware (Starlette's documentation recommends pure ASGI
  over ``BaseHTTPMiddleware`` for speed), adding the same five headers via
  ``MutableHeaders``;
* problem+json errors: exception handlers for ``HTTPException``, validation errors and
  anything unhandled, carrying the request id;
* a structlog access log (``@app.middleware("http")``, the pattern of the structlog and
  FastAPI guides): one JSON line per request with the same fields as ours, the request id
  bound through ``structlog.contextvars``. ``BENCH_ACCESS_LOG=0`` leaves it out.

Served like the others: ``uvicorn libraries:app --loop uvloop --http httptools
--no-access-log``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import structlog
from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    cache_logger_on_first_use=True,
)
log = structlog.get_logger("access").bind(app="bench", instance="http")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response carrying the request id."""
    body = {
        "type": f"urn:rainmaker:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": correlation_id.get(),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


app = FastAPI()


@app.exception_handler(StarletteHTTPException)
async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem(exc.status_code, f"http_{exc.status_code}", str(exc.detail), str(exc.detail))


@app.exception_handler(RequestValidationError)
async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "field": ".".join(str(p) for p in error["loc"]),
            "location": list(error["loc"]),
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    return problem(422, "validation_failed", "Request validation failed",
                   f"{len(errors)} problem(s) in the request", errors=errors)


@app.exception_handler(Exception)
async def server_error(_request: Request, _exc: Exception) -> JSONResponse:
    return problem(500, "internal_error", "Internal server error", "An unexpected error")


if os.environ.get("BENCH_ACCESS_LOG", "1") != "0":

    @app.middleware("http")
    async def access_log(request: Request, call_next: Any) -> Any:
        structlog.contextvars.bind_contextvars(request_id=correlation_id.get())
        began = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            client = request.client
            level = "error" if status >= 500 else "warning" if status >= 400 else "info"
            getattr(log, level)(
                "http.request",
                method=request.method,
                path=request.url.path,
                status=status,
                duration_ms=round((time.perf_counter() - began) * 1000, 2),
                client=client.host if client else None,
            )
            structlog.contextvars.clear_contextvars()


# Added last, so it is outermost: the id is set before the access log and the handlers run.
app.add_middleware(SecurityHeadersMiddleware)
app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")


@app.get("/items/{item_id}")
async def get_item(item_id: int) -> dict[str, object]:
    return {"id": item_id, "name": f"item {item_id}", "in_stock": True}
