"""A request body size limit, enforced without buffering the body.

A declared ``Content-Length`` over the limit is refused before the app runs. A body of
unknown length (chunked) is counted as it is received, and the read that crosses the limit
raises :class:`BodyTooLarge` (an HTTP 413), which the error handlers turn into
problem+json.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException

from rainmaker.capabilities.http import Message, Receive


class BodyTooLarge(HTTPException):
    """The request body is larger than ``max_body_size``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the limit of {limit} bytes")
        self.limit = limit


def declared_too_large(content_length: bytes | None, limit: int) -> bool:
    """Whether a ``Content-Length`` header announces more than ``limit`` bytes."""
    if content_length is None:
        return False
    try:
        return int(content_length) > limit
    except ValueError:
        return False  # the server rejects a malformed Content-Length itself


class LimitedReceive:
    """Wraps ``receive`` and raises :class:`BodyTooLarge` once more than ``limit`` bytes came."""

    __slots__ = ("_limit", "_receive", "_received")

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self._received = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                raise BodyTooLarge(self._limit)
        return message
