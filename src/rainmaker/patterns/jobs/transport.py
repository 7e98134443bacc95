"""What the worker and the enqueuer need from a broker, whichever it is.

Each backend wraps a taskiq broker (our own :class:`~rainmaker.patterns.jobs.local.
LocalBroker` for ``jobs-local``) in a :class:`Transport`: ``send`` a job now or after a
delay, ``receive`` deliveries that a worker acknowledges when done or releases (hands back
untouched) when it stops, ``renew`` the hold on jobs still running, and report health and
backlog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rainmaker.capabilities.jobs import QueueStats
from rainmaker.patterns.jobs.messages import JobMessage


@dataclass(eq=False)
class Delivery:
    """One job handed to this worker: ``ack`` when finished, ``release`` to give it back.

    ``token`` identifies the delivery to :meth:`Transport.renew`.
    """

    data: bytes
    ack: Callable[[], Awaitable[None]]
    release: Callable[[], Awaitable[None]]
    token: Any = None


class Transport(Protocol):
    """A broker as the jobs service uses it."""

    @property
    def endpoint(self) -> str:
        """Where the broker is, for errors and health (never a password)."""
        ...

    @property
    def transactional(self) -> bool:
        """Whether ``send`` joins the caller's database transaction by itself."""
        ...

    async def start(self) -> None:
        """Connect; :class:`~rainmaker.UnavailableError` naming the endpoint when it fails."""
        ...

    async def stop(self) -> None:
        """Disconnect (deliveries not acknowledged by then go back to the queue)."""
        ...

    async def send(self, message: JobMessage, delay: float = 0.0) -> None:
        """Put ``message`` on its queue, to be delivered after ``delay`` seconds."""
        ...

    def receive(self, queues: Sequence[str], prefetch: int) -> AsyncIterator[Delivery]:
        """Deliveries from ``queues``; reconnects by itself after an outage."""
        ...

    async def renew(self, tokens: Sequence[Any]) -> None:
        """Keep holding these deliveries (their jobs still run)."""
        ...

    async def ping(self) -> float:
        """One round trip; its latency in ms, or :class:`~rainmaker.UnavailableError`."""
        ...

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Backlog of each of ``queues``."""
        ...
