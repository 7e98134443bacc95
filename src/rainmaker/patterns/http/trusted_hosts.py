"""Trusted hosts: answer only requests whose ``Host`` header names this service.

Guards against Host-header attacks (poisoned absolute URLs, cache poisoning). Patterns are
exact names or ``*.example.com`` for any subdomain; a port in the header is ignored. Other
hosts get 400 problem+json. Pure ASGI, added only when the setting is not ``["*"]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from rainmaker.capabilities.http import HttpApp, Receive, Scope, Send
from rainmaker.patterns.http.problems import problem_body, request_id_of, send_problem


class TrustedHostMiddleware:
    """Rejects requests whose ``Host`` matches none of ``hosts``."""

    def __init__(
        self, app: HttpApp, *, hosts: Sequence[str], instance: str, type_base: str
    ) -> None:
        self.app = app
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
        raw = next((value for name, value in scope["headers"] if name == b"host"), b"")
        host = raw.decode("latin-1").rsplit(":", 1)[0] if not raw.startswith(b"[") else (
            raw.decode("latin-1").split("]")[0] + "]"
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
