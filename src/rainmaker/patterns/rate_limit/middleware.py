"""The path-rule middleware: policies from ``paths`` applied without touching the routes.

A pure ASGI layer (no ``BaseHTTPMiddleware``: see the performance facts in the design
notes), placed inside ``framework-fastapi``'s edge layer so requests already carry their
id and the route owners table. A request is counted under every rule that matches it; the
first refusal answers 429 problem+json itself, with ``Retry-After`` and the ``RateLimit-*``
headers; an allowed response gets the ``RateLimit-*`` headers of the tightest rule unless
the route's own ``rate_limit`` dependency already set them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rainmaker.capabilities.http import HttpApp, Message, Receive, Scope, Send
from rainmaker.capabilities.rate_limits import RateLimitDecision, RateLimitUnavailableError
from rainmaker.patterns.rate_limit.limiter import LimitsRateLimiter
from rainmaker.patterns.rate_limit.settings import PathRule

PROBLEM_JSON = b"application/problem+json"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A path rule, ready to match: an exact path, or a prefix (``/api/*``)."""

    path: str
    prefix: bool
    methods: frozenset[str]
    policy: str

    @classmethod
    def of(cls, rule: PathRule) -> CompiledRule:
        prefix = rule.path.endswith("*")
        return cls(
            rule.path[:-1] if prefix else rule.path, prefix, frozenset(rule.methods), rule.policy
        )

    def matches(self, path: str, method: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        return path.startswith(self.path) if self.prefix else path == self.path


class PathRateLimitMiddleware:
    """Counts requests under the ``paths`` rules of one ``rate-limit`` instance."""

    def __init__(
        self,
        app: HttpApp,
        *,
        limiter: Callable[[], LimitsRateLimiter | None],
        rules: Sequence[PathRule],
        instance: str,
        type_base: str,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.rules = tuple(CompiledRule.of(rule) for rule in rules)
        self.instance = instance
        self.type_base = type_base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        matched = [rule for rule in self.rules if rule.matches(path, method)]
        limiter = self.limiter() if matched else None
        if limiter is None:  # no rule, or not started (requests before start pass)
            await self.app(scope, receive, send)
            return
        tightest: RateLimitDecision | None = None
        for rule in matched:
            key = await limiter.key_for(rule.policy, scope)
            try:
                decision = await limiter.hit(rule.policy, key)
            except RateLimitUnavailableError as exc:
                await self._problem(send, scope, 503, exc.code, exc.message, exc.headers)
                return
            if not decision.allowed:
                error = decision.error()
                await self._problem(
                    send,
                    scope,
                    429,
                    error.code,
                    error.message,
                    decision.headers(),
                    retry_after=decision.retry_after,
                )
                return
            if tightest is None or decision.remaining < tightest.remaining:
                tightest = decision
        assert tightest is not None
        added = [(k.lower().encode(), v.encode()) for k, v in tightest.headers().items()]
        if not added:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or ())
                if not any(name.lower() == b"ratelimit-limit" for name, _ in headers):
                    headers.extend(added)  # a route's own rate_limit() headers win
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _problem(
        self,
        send: Send,
        scope: Scope,
        status: int,
        code: str,
        detail: str,
        headers: Any,
        *,
        retry_after: int | None = None,
    ) -> None:
        state = scope.get("state")
        body: dict[str, Any] = {
            "type": f"{self.type_base}{code}",
            "title": "Too Many Requests" if status == 429 else "Service Unavailable",
            "status": status,
            "detail": detail,
            "code": code,
            "pattern": self.instance,
            "request_id": state.get("request_id") if isinstance(state, dict) else None,
        }
        if retry_after is not None:
            body["retry_after"] = retry_after
        payload = json.dumps(body, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON),
                    (b"content-length", str(len(payload)).encode()),
                    *((k.lower().encode(), str(v).encode()) for k, v in dict(headers).items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
