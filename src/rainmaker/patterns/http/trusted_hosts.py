"""Trusted hosts: answer only requests whose ``Host`` header names this service, and never
send a client's ``Host`` back as the origin of a redirect.

Guards against Host-header attacks (poisoned absolute URLs, cache poisoning). Patterns are
exact names or ``*.example.com`` for any subdomain; a port in the header is ignored. Other
hosts get 400 problem+json. Pure ASGI, added only when the setting is not ``["*"]``.

Probes are the exception: ``GET`` of exactly the liveness and readiness paths
(``/health/live``, ``/health/ready`` under the instance's prefix) are answered for any
Host. Orchestrators and load balancers probe by address (the kubelet sends the pod IP as
Host, Docker's ``HEALTHCHECK`` 127.0.0.1, cloud load balancers the target's IP), and those
two answers are the same for every Host, hold no URL and no data beyond a bare status
(the ``/health`` detail stays behind the Host check). Exempting them keeps every prober
working without widening the names the app answers to.

Whatever ``trusted_hosts`` says, :func:`host_free_location` (applied by the edge layer to
every redirect) turns a ``Location`` built from the request's own ``Host`` (Starlette's
slash redirect, ``request.url_for``) into a path, so ``Host: evil.example`` can never
produce ``Location: http://evil.example/...``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from rainmaker.capabilities.http import HttpApp, Receive, Scope, Send
from rainmaker.patterns.http.problems import problem_body, request_id_of, send_problem


class TrustedHostMiddleware:
    """Rejects requests whose ``Host`` matches none of ``hosts``."""

    def __init__(
        self,
        app: HttpApp,
        *,
        hosts: Sequence[str],
        instance: str,
        type_base: str,
        probe_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        # Exact paths only (no prefix match): "/health/live/../x" or a route below them is
        # not a probe.
        self.probe_paths = frozenset(probe_paths)
        self.exact = frozenset(h.lower() for h in hosts if not h.startswith("*."))
        self.suffixes = tuple(h[1:].lower() for h in hosts if h.startswith("*."))
        self.instance = instance
        self.type_base = type_base

    def allows(self, host: str) -> bool:
        """Whether ``host`` (without port) is trusted."""
        host = host.lower()
        return host in self.exact or any(host.endswith(suffix) for suffix in self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if (
            scope["type"] == "http"
            and scope["path"] in self.probe_paths
            and scope["method"] == "GET"
        ):
            await self.app(scope, receive, send)
            return
        raw = next((value for name, value in scope["headers"] if name == b"host"), b"")
        host = (
            raw.decode("latin-1").rsplit(":", 1)[0]
            if not raw.startswith(b"[")
            else (raw.decode("latin-1").split("]")[0] + "]")
        )
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = problem_body(
            status=400,
            code="untrusted_host",
            title="Untrusted host",
            detail=f"This service does not answer for the host {host!r}",
            type_base=self.type_base,
            pattern=self.instance,
            request_id=request_id_of(scope),
        )
        await send_problem(send, body)


def host_free_location(location: bytes, *, scheme: str, host: bytes | None) -> bytes:
    """``location`` without its origin when that origin is the request's own (``scheme``
    and ``Host``); other locations unchanged.

    The origin was read from the client's ``Host`` header, which the client chose; the
    path alone leads the browser to the same place. Leading slashes and backslashes are
    collapsed to one slash, so the path cannot turn into ``//other.example`` (a
    scheme-relative URL, i.e. another origin).
    """
    if host is None or not location[:8].lower().startswith((b"http://", b"https://")):
        return location
    try:
        parts = urlsplit(location.decode("latin-1"))
    except ValueError:
        return location
    if parts.scheme.lower() != scheme or parts.netloc.lower() != host.decode("latin-1").lower():
        return location
    path = "/" + parts.path.lstrip("/\\")
    if parts.query:
        path += "?" + parts.query
    if parts.fragment:
        path += "#" + parts.fragment
    return path.encode("latin-1")
