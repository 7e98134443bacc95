"""Jobs on the wire: taskiq's message format, so any taskiq tooling can read our queues.

A job travels as a :class:`taskiq.TaskiqMessage` (JSON): ``task_id`` is the job id,
``task_name`` the job name, ``args``/``kwargs`` its arguments, and labels carry what the
worker needs besides: the attempt number, the queue, the idempotency key, when the job
was first enqueued, whether the database tracks it until it is settled (``tracked``) and,
when tracing is on, the W3C trace context of the enqueueing span
(``traceparent``/``tracestate`` labels), so the run continues the enqueuer's trace.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from taskiq import TaskiqMessage

TRACE_LABELS = ("traceparent", "tracestate")


def new_job_id() -> str:
    """A fresh job id (hex UUID4: sortable enough, unique across machines)."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class JobMessage:
    """One delivery of a job: ``attempt`` counts from 1 and grows with each retry."""

    job_id: str
    name: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    attempt: int = 1
    idempotency_key: str | None = None
    enqueued_at: float = field(default_factory=time.time)
    trace_context: dict[str, str] | None = None
    # Kept in the database until settled (``jobs-redis`` transactional enqueue): the
    # worker then tells the tracker it is done with it.
    tracked: bool = False

    def next_attempt(self) -> JobMessage:
        """The same job, one attempt further."""
        return replace(self, attempt=self.attempt + 1)

    @property
    def enqueued_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.enqueued_at, UTC)

    def taskiq(self) -> TaskiqMessage:
        labels: dict[str, Any] = {
            "attempt": self.attempt,
            "queue_name": self.queue,
            "enqueued_at": self.enqueued_at,
        }
        if self.idempotency_key is not None:
            labels["idempotency_key"] = self.idempotency_key
        if self.tracked:
            labels["tracked"] = True
        if self.trace_context:
            labels.update((k, v) for k, v in self.trace_context.items() if k in TRACE_LABELS)
        return TaskiqMessage(
            task_id=self.job_id,
            task_name=self.name,
            labels=labels,
            args=self.args,
            kwargs=self.kwargs,
        )

    def encode(self) -> bytes:
        """The JSON bytes brokers carry (taskiq's JSONFormatter format)."""
        return self.taskiq().model_dump_json().encode()

    @classmethod
    def decode(cls, data: bytes | str) -> JobMessage:
        """Parse bytes a broker delivered; ``ValueError`` when they are not a job."""
        try:
            message = TaskiqMessage.model_validate_json(data)
        except Exception as error:
            raise ValueError(f"not a job message: {error}") from error
        labels = message.labels
        key = labels.get("idempotency_key")
        trace_context = {
            name: str(labels[name]) for name in TRACE_LABELS if labels.get(name) is not None
        }
        return cls(
            job_id=message.task_id,
            name=message.task_name,
            queue=str(labels.get("queue_name") or "default"),
            args=list(message.args),
            kwargs=dict(message.kwargs),
            attempt=int(labels.get("attempt", 1)),
            idempotency_key=None if key is None else str(key),
            enqueued_at=float(labels.get("enqueued_at", time.time())),
            trace_context=trace_context or None,
            tracked=bool(labels.get("tracked", False)),
        )
