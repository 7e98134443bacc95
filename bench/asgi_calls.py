"""Calling an ASGI app in this process, for the in-process benches: one request, many times.

No sockets and no load generator: on a shared machine that compares just what differs
between two apps, with far less noise than HTTP rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any


def http_scope(
    method: str, path: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> dict[str, Any]:
    """The ASGI scope of one HTTP/1.1 request from 127.0.0.1 (``host: bench`` unless given)."""
    given = list(headers)
    if not any(name == b"host" for name, _ in given):
        given.insert(0, (b"host", b"bench"))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": given,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def timed_calls(
    app: Any,
    scope: dict[str, Any],
    count: int,
    *,
    body: bytes = b"",
    expected: int = 200,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """``clock``'s seconds for ``count`` sequential calls of ``app`` with ``scope``.

    Every answer must have status ``expected`` (else ``AssertionError``): a bench that
    measures its error path measures the wrong thing. ``time.process_time`` as ``clock``
    counts the CPU of every thread (aiosqlite's too), the steadier figure on a busy machine.
    """
    statuses: list[int] = []
    request = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    began = clock()
    for _ in range(count):
        await app(dict(scope), receive, send)
    spent = clock() - began
    assert set(statuses) == {expected}, statuses[:3]
    return spent
