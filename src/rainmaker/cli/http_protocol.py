"""uvicorn's httptools protocol with the limits it lacks against slow and bloated clients.

uvicorn starts no timer on a new connection, while a request's headers trickle in or while
its body stalls, and httptools bounds neither the header size nor their number, so one
client can tie up a connection (and memory) for as long as it likes. Here a request head
(request line and headers) must arrive within ``head_timeout`` seconds and weigh at most
``max_head_size`` bytes (else 408 or 431, and the connection closes), and a request body
may not pause for more than ``body_timeout`` seconds between chunks (else the connection
closes and the app sees the client disconnect).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """An :class:`HttpToolsProtocol` that refuses slow and oversized request heads.

    Subclass it with :func:`guarded_protocol` to set the limits: uvicorn builds protocol
    instances itself, so the limits travel as class attributes.
    """

    head_timeout: float = 10.0
    max_head_size: int = 64 * 1024
    body_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._body_timer is not None:  # the body moved: give it another body_timeout
            self._disarm_body_timer()
            self._arm_body_timer()
        if self._in_head:
            # Count the head's bytes before the parser buffers them: up to the blank line
            # that ends it, or the whole chunk while it has not ended yet.
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4
            if self._head_bytes > self.max_head_size:
                self._refuse(431, f"The request head is larger than {self.max_head_size} bytes.")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._disarm_head_timer()
        super().on_headers_complete()
        self._arm_body_timer()

    def on_message_complete(self) -> None:
        self._disarm_body_timer()
        self._in_head = True  # whatever comes next on this connection is a new head
        self._head_bytes = 0
        super().on_message_complete()

    def _arm_body_timer(self) -> None:
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_timed_out)

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            self.transport.close()  # the app's receive() answers http.disconnect

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes or self.headers:
            self._refuse(408, f"The request head did not arrive within {self.head_timeout:g}s.")
        else:
            self.transport.close()  # connected and said nothing: nobody to answer

    def _refuse(self, status: int, message: str) -> None:
        self._disarm_head_timer()
        body = message.encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])
            + b"content-type: text/plain; charset=utf-8\r\n"
            + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            + body
        )
        self.transport.close()


def guarded_protocol(
    head_timeout: float, max_head_size: int, body_timeout: float
) -> type[GuardedHttpToolsProtocol]:
    """A protocol class with these limits, for ``uvicorn.Config(http=...)``."""
    limits = {
        "head_timeout": head_timeout,
        "max_head_size": max_head_size,
        "body_timeout": body_timeout,
    }
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), limits)
