"""The ``Http`` capability: the one ASGI application that serves every pattern's routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@runtime_checkable
class HttpApp(Protocol):
    """An ASGI application for ``http`` and ``websocket`` scopes.

    The kernel's :class:`~rainmaker.kernel.application.Application` handles ``lifespan``
    itself and hands every other scope to the registered ``HttpApp``.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


Http: Capability[HttpApp] = Capability(
    "Http", HttpApp, description="Serves the app's routes over HTTP (an ASGI application)."
)
