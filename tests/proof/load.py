"""A bounded load generator: fixed concurrency, at most ``max_requests`` requests and
``max_seconds`` seconds, stopping early when told to (as a load balancer stops sending to
a backend whose readiness fails). Every answer is counted; nothing is retried."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

Request = Callable[[httpx.AsyncClient, str, int], Awaitable[httpx.Response]]


@dataclass
class Answer:
    """One request's outcome: what was asked, the status (``None``: a transport error)."""

    what: str
    status: int | None
    content_type: str = ""
    body: str = ""
    error: str = ""
    at: float = 0.0


@dataclass
class Load:
    """Everything the generator saw."""

    answers: list[Answer] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.answers)

    @property
    def ok(self) -> list[Answer]:
        return [a for a in self.answers if a.status is not None and 200 <= a.status < 300]

    def failures(self, allowed: Callable[[Answer], bool] = lambda _a: False) -> list[Answer]:
        """Answers that are neither 2xx nor ``allowed``."""
        return [
            a
            for a in self.answers
            if not (a.status is not None and 200 <= a.status < 300) and not allowed(a)
        ]

    def statuses(self) -> dict[str, int]:
        return dict(sorted(Counter(str(a.status) for a in self.answers).items()))


async def generate(
    urls: Sequence[str],
    requests: Sequence[tuple[str, Request]],
    *,
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    stop: asyncio.Event,
    timeout: float = 10.0,
) -> Load:
    """Send requests round-robin over ``urls`` and ``requests`` until a bound or ``stop``."""
    load = Load()
    counter = 0
    deadline = time.monotonic() + max_seconds

    async def user(client: httpx.AsyncClient) -> None:
        nonlocal counter
        while not stop.is_set() and counter < max_requests and time.monotonic() < deadline:
            number = counter
            counter += 1
            url = urls[number % len(urls)]
            what, send = requests[number % len(requests)]
            started = time.monotonic()
            try:
                response = await send(client, url, number)
            except httpx.HTTPError as error:
                load.answers.append(Answer(what, None, error=repr(error), at=started))
                continue
            load.answers.append(
                Answer(
                    what,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.text[:300],
                    at=started,
                )
            )

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        await asyncio.gather(*(user(client) for _ in range(concurrency)))
    return load


async def watch_readiness(url: str, stop: asyncio.Event, *, every: float = 0.05) -> float:
    """Poll ``url``/health/ready until it stops answering 200; set ``stop``; the time."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        while not stop.is_set():
            try:
                answer = await client.get(f"{url}/health/ready")
                if answer.status_code != 200:
                    break
            except httpx.HTTPError:
                break
            await asyncio.sleep(every)
    stop.set()
    return time.monotonic()
