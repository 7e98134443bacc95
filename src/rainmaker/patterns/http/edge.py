"""The edge middleware: request id, access log, error boundary, security headers, body limit
and redirects that never carry the client's ``Host`` back as their origin.

These five concerns touch every request, so they are fused into one pure-ASGI layer: each
extra layer costs a function call, a ``send`` closure and a header scan per request, and
the benchmark in ``bench/http`` holds the composed app to 97 % of a hand-written FastAPI
app. The logic of each concern lives in its own module (:mod:`.request_id`,
:mod:`.access_log`, :mod:`.security_headers`, :mod:`.body_limit`, :mod:`.problems`); this
module only sequences them.

It is the outermost layer by default (other middleware can still ask to run before it),
and answers to the names ``edge``, ``request-id``, ``access-log``, ``errors``,
``security-headers`` and ``body-limit`` in ``before``/``after`` constraints.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from typing import Any

from structlog.contextvars import bind_contextvars
from structlog.typing import FilteringBoundLogger

from rainmaker.capabilities.http import HttpApp, Message, Receive, Scope, Send
from rainmaker.patterns.http.access_log import AccessLog
from rainmaker.patterns.http.body_limit import BodyTooLarge, LimitedReceive, declared_too_large
from rainmaker.patterns.http.problems import (
    HTTP_CODES,
    SERVER_ERROR_DETAIL,
    problem_body,
    send_problem,
    was_logged,
)
from rainmaker.patterns.http.request_id import accept_request_id
from rainmaker.patterns.http.security_headers import HeaderSet, security_headers
from rainmaker.patterns.http.settings import HttpSettings
from rainmaker.patterns.http.trusted_hosts import host_free_location

EDGE_NAMES = ("edge", "request-id", "access-log", "errors", "security-headers", "body-limit")


def _structlog_var(name: str) -> contextvars.ContextVar[Any]:
    """The context variable ``structlog.contextvars`` binds ``name`` in.

    ``bind_contextvars`` creates it on first use; setting and resetting it directly is what
    ``bind_contextvars``/``reset_contextvars`` do, at a third of the cost per request (a
    dict of tokens and keyword arguments each way). Found by its name in the current
    context, so no structlog internal is used.
    """
    context = contextvars.copy_context()
    for var in context:
        if var.name == f"structlog_{name}":
            return var
    bind_contextvars(**{name: ...})  # ... is structlog's "unbound" marker: creates it unset
    return _structlog_var(name)


# Every line logged while a request runs carries its id (structlog's merge_contextvars).
_REQUEST_ID = _structlog_var("request_id")


class EdgeMiddleware:
    """One ASGI layer doing what every request needs before and after the app.

    ``lifespan_state`` is what the routers' lifespans yielded; it is copied into each
    request's ``scope["state"]`` (as servers do for an app's own lifespan), because the
    kernel, not the server, runs those lifespans.
    """

    def __init__(
        self,
        app: HttpApp,
        *,
        settings: HttpSettings,
        instance: str,
        log: FilteringBoundLogger,
        csp_exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.instance = instance
        self.log = log
        self.type_base = settings.problem_type_base
        self.limit = settings.max_body_size
        self.id_header = settings.request_id_header.lower().encode("latin-1")
        self.headers = HeaderSet(security_headers(settings.security_headers))
        self.headers_without_csp = HeaderSet(
            security_headers(settings.security_headers, csp=False)
        )
        self.csp_exempt = csp_exempt
        self.access = AccessLog(log) if settings.access_log else None
        self.lifespan_state: Mapping[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        raw_id: bytes | None = None
        length: bytes | None = None
        host: bytes | None = None
        chunked = False
        id_header = self.id_header
        # One pass over the headers serves the request id, the body limit and redirects.
        for name, value in scope["headers"]:
            if name == id_header:
                raw_id = value
            elif name == b"host":
                host = value
            elif name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        request_id = accept_request_id(raw_id)
        state = scope.get("state")
        if self.lifespan_state:
            state = scope["state"] = {**self.lifespan_state, **(state or {})}
        elif state is None:
            state = scope["state"] = {}
        state["request_id"] = request_id
        token = _REQUEST_ID.set(request_id)
        if kind == "websocket":
            try:
                await self.app(scope, receive, send)
            finally:
                _REQUEST_ID.reset(token)
            return

        began = time.perf_counter()
        status = 0
        csp_exempt = self.csp_exempt
        added = (
            self.headers_without_csp
            if csp_exempt and scope["path"] in csp_exempt
            else self.headers
        )
        id_pair = (id_header, request_id.encode())

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or ())
                if 300 <= status < 400:
                    _drop_request_origin(headers, scope["scheme"], host)
                added.merge_into(headers, id_pair)
                message["headers"] = headers
            await send(message)

        try:
            if declared_too_large(length, self.limit):
                await send_problem(send_with_headers, self._problem(413, request_id))
            else:
                if chunked:
                    receive = LimitedReceive(receive, self.limit)
                await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # The error boundary. FastAPI's handlers have answered most errors already;
            # what arrives here escaped them (a middleware's bug, a failed stream).
            if status == 0:
                code = 413 if isinstance(exc, BodyTooLarge) else 500
                if code == 500 and not was_logged(scope):
                    self.log.error("http.unhandled_error", path=scope["path"], exc_info=exc)
                await send_problem(send_with_headers, self._problem(code, request_id))
            elif not was_logged(scope):
                self.log.error("http.response_failed", path=scope["path"], exc_info=exc)
            # Not re-raised: it is logged, and the server would only log it a second time.
        finally:
            if self.access is not None:
                self.access.record(scope, status, time.perf_counter() - began)
            _REQUEST_ID.reset(token)

    def _problem(self, status: int, request_id: str) -> dict[str, Any]:
        detail = (
            f"The request body exceeds the limit of {self.limit} bytes"
            if status == 413
            else SERVER_ERROR_DETAIL
        )
        return problem_body(
            status=status,
            code=HTTP_CODES[status],
            detail=detail,
            type_base=self.type_base,
            pattern=self.instance,
            request_id=request_id,
        )


def _drop_request_origin(
    headers: list[tuple[bytes, bytes]], scheme: str, host: bytes | None
) -> None:
    """Make a redirect's ``Location`` relative when its origin came from the ``Host`` header
    (see :func:`~rainmaker.patterns.http.trusted_hosts.host_free_location`)."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"location":
            headers[index] = (name, host_free_location(value, scheme=scheme, host=host))
