"""``?profile=1`` in development: the answer is the profile of that very request.

With ``profile_requests = true`` (development only), a request whose query string holds
``profile=1`` runs under pyinstrument and is answered with pyinstrument's HTML report
instead of the app's own response (whose status the report's title names). Other requests
pass straight through: the check is one ``in`` on the raw query bytes.

pyinstrument's ``async_mode="enabled"`` follows the request's own task, so concurrent
requests do not blur into its profile. Pure ASGI, like every middleware here.
"""

from __future__ import annotations

from rainmaker.capabilities.http import HttpApp, Message, Receive, Scope, Send

MARKERS = (b"profile=1", b"profile=true")


def _asks(query: bytes) -> bool:
    return any(part in MARKERS for part in query.split(b"&"))


class RequestProfiler:
    """Answers ``?profile=1`` requests with their profile (see the module docstring)."""

    def __init__(self, app: HttpApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _asks(scope.get("query_string", b"")):
            await self.app(scope, receive, send)
            return
        from pyinstrument import Profiler

        status: list[int] = []

        async def discard(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))

        profiler = Profiler(async_mode="enabled")
        profiler.start()
        try:
            await self.app(scope, receive, discard)
        finally:
            profiler.stop()
        body = profiler.output_html().encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"x-profiled-status", str(status[0] if status else 0).encode()),
        ]
        start: Message = {"type": "http.response.start", "status": 200, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})
