"""RFC 9457 problem details: every error the HTTP layer answers is ``application/problem+json``.

A body always has ``type``, ``title``, ``status``, ``detail``, ``code`` (stable, machine
readable), ``pattern`` (the instance the error belongs to) and ``request_id`` (to find the
log lines). Handlers here are registered on the FastAPI app; :func:`send_problem` is the
raw-ASGI form used by middleware that answers before FastAPI runs.

What reaches the client is deliberately limited: for 5xx answers the detail is a generic
sentence and the real error goes to the log, so internals (hostnames, SQL, stack traces)
never leak.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from structlog.typing import FilteringBoundLogger

from rainmaker import PatternError, RateLimitedError, UnavailableError
from rainmaker.capabilities.http import Scope, Send

PROBLEM_JSON = "application/problem+json"

#: Stable codes for errors the HTTP layer raises itself, by status.
HTTP_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}

SERVER_ERROR_DETAIL = (
    "The server failed to handle this request. Quote the request_id when reporting it."
)

OwnerOf = Callable[[Scope], str | None]
"""Finds the instance whose route matched a request (``None`` when no route matched)."""


def status_title(status: int) -> str:
    """The standard reason phrase for ``status`` (``"Error"`` for unknown codes)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def request_id_of(scope: Scope) -> str | None:
    """The request id the edge middleware stored in the request's state."""
    state = scope.get("state")
    return state.get("request_id") if isinstance(state, dict) else None


def problem_body(
    *,
    status: int,
    code: str,
    detail: str,
    type_base: str,
    title: str | None = None,
    pattern: str | None = None,
    request_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A problem details object; ``extra`` members come after the standard ones."""
    body: dict[str, Any] = {
        "type": f"{type_base}{code}",
        "title": title or status_title(status),
        "status": status,
        "detail": detail,
        "code": code,
        "pattern": pattern,
        "request_id": request_id,
    }
    if extra:
        body.update(extra)
    return body


def encode(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, like Starlette's JSONResponse renders it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class ProblemResponse(Response):
    """A Starlette response whose body is a problem details object."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return encode(content)


async def send_problem(
    send: Send,
    body: Mapping[str, Any],
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with ``body`` over raw ASGI (for middleware that runs outside FastAPI)."""
    payload = encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": body["status"],
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def install_problem_handlers(
    app: FastAPI,
    *,
    http_instance: str,
    owner_of: OwnerOf,
    type_base: str,
    log: FilteringBoundLogger,
) -> None:
    """Register handlers so that every error FastAPI sees is answered as problem+json.

    ``http_instance`` is named as the ``pattern`` of errors no route owns (404, 405, 413);
    ``owner_of`` names the instance whose route matched for the others.
    """

    def owner(request: Request, fallback: str | None = None) -> str | None:
        return fallback or owner_of(request.scope) or http_instance

    async def on_pattern_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PatternError)
        headers: dict[str, str] = dict(exc.headers)
        extra: dict[str, Any] = {}
        if isinstance(exc, RateLimitedError):
            seconds = max(0, math.ceil(exc.retry_after))
            headers["Retry-After"] = str(seconds)
            extra["retry_after"] = seconds
        # A 503 raised with public=True was written for the client ("no webhook_secret
        # is set; set …"): it keeps its message and hint, like a 4xx.
        outage = isinstance(exc, UnavailableError)
        if exc.status >= 500:
            # Any other server-side pattern error may carry hostnames or queries: log,
            # don't tell. An outage is expected and reported by health: no traceback.
            (log.warning if outage else log.error)(
                "http.pattern_error",
                code=exc.code,
                error=str(exc),
                path=request.url.path,
                exc_info=None if outage else exc,
            )
        told = exc.status < 500 or (outage and getattr(exc, "public", False))
        detail = exc.message if told else SERVER_ERROR_DETAIL
        if told and exc.hint:
            extra["hint"] = exc.hint
        body = problem_body(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=detail,
            type_base=type_base,
            pattern=owner(request, exc.pattern_id),
            request_id=request_id_of(request.scope),
            extra=extra,
        )
        return ProblemResponse(body, status_code=exc.status, headers=headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [_field_error(error) for error in exc.errors()]
        fields = ", ".join(dict.fromkeys(error["field"] for error in errors))
        count = len(errors)
        body = problem_body(
            status=422,
            code="validation_failed",
            title="Request validation failed",
            detail=f"{count} problem{'s' if count != 1 else ''} in the request: {fields}",
            type_base=type_base,
            pattern=owner(request),
            request_id=request_id_of(request.scope),
            extra={"errors": errors},
        )
        return ProblemResponse(body, status_code=422)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 404 and exc.detail == "Not Found":
            detail = f"No route matches {request.url.path}"
        elif status == 405 and exc.detail == "Method Not Allowed":
            allowed = allowed_methods(request) or (exc.headers or {}).get("Allow")
            headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
            if allowed:
                headers["Allow"] = allowed
            exc.headers = headers
            detail = f"{request.method} is not allowed on {request.url.path}" + (
                f"; allowed: {allowed}" if allowed else ""
            )
        else:
            detail = str(exc.detail)
        body = problem_body(
            status=status,
            code=HTTP_CODES.get(status, f"http_{status}"),
            detail=detail,
            type_base=type_base,
            pattern=owner(request),
            request_id=request_id_of(request.scope),
        )
        if status < 200 or status in (204, 304):  # no body allowed
            return Response(status_code=status, headers=exc.headers)
        return ProblemResponse(body, status_code=status, headers=exc.headers)

    async def on_unhandled(request: Request, exc: Exception) -> Response:
        log.error(
            "http.unhandled_error",
            method=request.method,
            path=request.url.path,
            route_owner=owner(request),
            exc_info=exc,
        )
        mark_logged(request.scope)
        body = problem_body(
            status=500,
            code="internal_error",
            detail=SERVER_ERROR_DETAIL,
            type_base=type_base,
            pattern=owner(request),
            request_id=request_id_of(request.scope),
        )
        return ProblemResponse(body, status_code=500)

    app.add_exception_handler(PatternError, on_pattern_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, on_unhandled)


def allowed_methods(request: Request) -> str | None:
    """Every method some route serves on the request's path, as an ``Allow`` value.

    Starlette's 405 names the methods of the first route whose path matched; a path served
    by two routes (``GET`` and ``PUT /files/{key}``) must list both.
    """
    path: str = request.scope["path"]
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):  # routes match below the mount, as Starlette does
        path = path[len(root) :]
    methods: set[str] = set()
    for context in iter_route_contexts(request.app.router.routes):
        route_methods = getattr(context.original_route, "methods", None)
        regex = getattr(context, "path_regex", None)
        if route_methods and regex is not None and regex.match(path):
            methods.update(route_methods)
    return ", ".join(sorted(methods)) if methods else None


def mark_logged(scope: Scope) -> None:
    """Note that the request's unhandled error is already in the log (the edge re-raise)."""
    state = scope.get("state")
    if isinstance(state, dict):
        state["error_logged"] = True


def was_logged(scope: Scope) -> bool:
    """Whether :func:`mark_logged` was called for this request."""
    state = scope.get("state")
    return bool(isinstance(state, dict) and state.get("error_logged"))


def _field_error(error: Mapping[str, Any]) -> dict[str, Any]:
    # The rejected input is left out on purpose: it may be a password or a token.
    loc = [str(part) for part in error.get("loc", ())]
    return {
        "field": ".".join(loc) or "request",
        "location": loc,
        "message": str(error.get("msg", "invalid")),
        "type": str(error.get("type", "value_error")),
    }
