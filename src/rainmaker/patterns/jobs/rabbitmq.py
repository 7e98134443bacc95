"""``jobs-rabbitmq``: jobs on RabbitMQ through taskiq-aio-pika's ``AioPikaBroker``.

The broker opens the robust (self-reconnecting) publishing connection, declares the
direct exchange ``<exchange>``, the dead-letter queue ``<exchange>.dead`` and the first
queue; further queues ``<exchange>.<queue>`` (durable quorum queues, as taskiq-aio-pika
declares them) are declared on first use. Messages are persistent and published with
publisher confirms. A worker consumes over a connection of its own with ``prefetch`` equal
to its concurrency and acknowledges after the job; a worker that dies leaves its
unacknowledged jobs to RabbitMQ, which redelivers them at once.

Delays use one small queue per (queue, delay) pair, ``<exchange>.<queue>.delay.<ms>``, with
that TTL and the exchange as dead-letter target, so a long delay never holds up a short
one (a single delay queue with per-message TTLs, taskiq-aio-pika's way, would); delays
are rounded to 100 ms, and an idle delay queue deletes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from aio_pika import DeliveryMode, ExchangeType, Message, connect_robust
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from taskiq_aio_pika import AioPikaBroker, Exchange, Queue

from rainmaker import UnavailableError
from rainmaker.capabilities.jobs import QueueStats
from rainmaker.patterns.jobs.messages import JobMessage
from rainmaker.patterns.jobs.transport import Delivery

DELAY_STEP_MS = 100


def amqp_endpoint(url: str) -> str:
    """``host:port`` of an AMQP URL (never the password)."""
    parts = urlsplit(url)
    default = 5671 if parts.scheme == "amqps" else 5672
    return f"{parts.hostname}:{parts.port or default}"


class RabbitMqTransport:
    """:class:`~rainmaker.patterns.jobs.transport.Transport` on RabbitMQ."""

    transactional = False

    def __init__(
        self,
        url: str,
        *,
        exchange: str,
        first_queue: str,
        connect_timeout: float,
        password: str | None,
        log: Any,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self.connect_timeout = connect_timeout
        self._log = log
        self._connect_kwargs: dict[str, Any] = {"timeout": connect_timeout}
        if password:
            self._connect_kwargs["password"] = password
        self.dead_queue = f"{exchange}.dead"
        self.broker = AioPikaBroker(
            url,
            exchange=Exchange(name=exchange, type=ExchangeType.DIRECT),
            task_queues=[Queue(name=self.queue_name(first_queue))],
            dead_letter_queue=Queue(name=self.dead_queue),
            qos=10,
            **self._connect_kwargs,
        )
        self._declared: set[str] = {self.queue_name(first_queue)}
        self._declare_lock = asyncio.Lock()
        self._read_conn: AbstractRobustConnection | None = None

    @property
    def endpoint(self) -> str:
        return amqp_endpoint(self.url)

    def queue_name(self, queue: str) -> str:
        return f"{self.exchange_name}.{queue}"

    def unavailable(self, error: BaseException) -> UnavailableError:
        reason = str(error) or type(error).__name__
        if isinstance(error, TimeoutError):
            reason = f"no answer within {self.connect_timeout:g}s"
        return UnavailableError(
            f"RabbitMQ at {self.endpoint} is unavailable: {reason}",
            hint=f"start RabbitMQ on {self.endpoint} or fix the url setting",
            cause=error,
        )

    @property
    def _channel(self) -> AbstractChannel:
        channel = self.broker.write_channel
        if channel is None or channel.is_closed:
            raise UnavailableError(f"RabbitMQ at {self.endpoint}: not connected")
        return channel

    async def start(self) -> None:
        try:
            await asyncio.wait_for(self.broker.startup(), self.connect_timeout + 1)
        except Exception as error:
            with contextlib.suppress(Exception):
                await self.broker.shutdown()
            raise self.unavailable(error) from error

    async def stop(self) -> None:
        if self._read_conn is not None:
            with contextlib.suppress(Exception):
                await self._read_conn.close()
            self._read_conn = None
        with contextlib.suppress(Exception):
            await self.broker.shutdown()

    def _queue_arguments(self) -> dict[str, Any]:
        # Exactly what taskiq-aio-pika declares for its task queues: redeclaring a queue
        # with other arguments is an error in RabbitMQ.
        return {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.dead_queue,
            "x-queue-type": "quorum",
        }

    async def _declare(self, channel: AbstractChannel, queue: str) -> Any:
        name = self.queue_name(queue)
        declared = await channel.declare_queue(
            name, durable=True, arguments=self._queue_arguments()
        )
        await declared.bind(self.exchange_name, routing_key=name)
        return declared

    async def _ensure_queue(self, queue: str) -> None:
        name = self.queue_name(queue)
        if name in self._declared:
            return
        async with self._declare_lock:
            if name not in self._declared:
                await self._declare(self._channel, queue)
                self._declared.add(name)

    async def send(self, message: JobMessage, delay: float = 0.0) -> None:
        body = message.encode()
        try:
            await self._ensure_queue(message.queue)
            amqp = Message(
                body,
                delivery_mode=DeliveryMode.PERSISTENT,
                message_id=message.job_id,
                headers={"task_id": message.job_id, "task_name": message.name},
            )
            target = self.queue_name(message.queue)
            if delay <= 0:
                exchange = await self._channel.get_exchange(self.exchange_name, ensure=False)
                await exchange.publish(amqp, routing_key=target)
                return
            ms = max(DELAY_STEP_MS, round(delay * 1000 / DELAY_STEP_MS) * DELAY_STEP_MS)
            delay_queue = f"{target}.delay.{ms}"
            # Declared on every send: x-expires counts from the last declaration, so the
            # queue outlives the message published right after it.
            await self._channel.declare_queue(
                delay_queue,
                durable=True,
                arguments={
                    "x-message-ttl": ms,
                    "x-expires": ms + 60_000,
                    "x-dead-letter-exchange": self.exchange_name,
                    "x-dead-letter-routing-key": target,
                },
            )
            await self._channel.default_exchange.publish(amqp, routing_key=delay_queue)
        except UnavailableError:
            raise
        except Exception as error:
            raise self.unavailable(error) from error

    async def receive(self, queues: Sequence[str], prefetch: int) -> AsyncIterator[Delivery]:
        inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        backoff = 0.5
        while self._read_conn is None:
            try:
                self._read_conn = await connect_robust(self.url, **self._connect_kwargs)
            except Exception as error:
                self._log.warning(
                    "jobs.broker_unavailable", endpoint=self.endpoint, error=str(error)
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
        channel = await self._read_conn.channel()
        await channel.set_qos(prefetch_count=prefetch)
        consumers = []
        for queue in queues:
            declared = await self._declare(channel, queue)
            tag = await declared.consume(inbox.put)
            consumers.append((declared, tag))
        try:
            while True:
                incoming = await inbox.get()
                yield self._delivery(incoming)
        finally:
            for declared, tag in consumers:
                with contextlib.suppress(Exception):
                    await asyncio.shield(declared.cancel(tag))
            while not inbox.empty():  # taken from RabbitMQ but never started: give back
                with contextlib.suppress(Exception):
                    await asyncio.shield(inbox.get_nowait().nack(requeue=True))

    def _delivery(self, incoming: AbstractIncomingMessage) -> Delivery:
        async def ack() -> None:
            await incoming.ack()

        async def release() -> None:
            await incoming.nack(requeue=True)

        return Delivery(incoming.body, ack, release, incoming.delivery_tag)

    async def renew(self, tokens: Sequence[Any]) -> None:
        """Nothing to do: RabbitMQ holds unacknowledged jobs while the connection lives."""

    async def ping(self) -> float:
        began = time.perf_counter()
        connection = self.broker.write_conn
        connected = getattr(connection, "connected", None)
        if connection is None or connection.is_closed or (connected and not connected.is_set()):
            raise UnavailableError(
                f"RabbitMQ at {self.endpoint} is unavailable: not connected (reconnecting)",
                hint=f"check RabbitMQ on {self.endpoint}",
            )
        try:
            await asyncio.wait_for(
                self._channel.get_exchange(self.exchange_name, ensure=True), self.connect_timeout
            )
        except UnavailableError:
            raise
        except Exception as error:
            raise self.unavailable(error) from error
        return (time.perf_counter() - began) * 1000

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        result = []
        for queue in queues:
            try:
                await self._ensure_queue(queue)
                declared = await self._channel.declare_queue(self.queue_name(queue), passive=True)
                waiting = int(declared.declaration_result.message_count or 0)
            except UnavailableError:
                raise
            except Exception as error:
                raise self.unavailable(error) from error
            # RabbitMQ tells neither the age of the oldest message nor the delayed count
            # without consuming them; report what it does tell.
            result.append(QueueStats(queue, waiting, 0, None))
        return result
