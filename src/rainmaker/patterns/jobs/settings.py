"""Settings of the jobs patterns (light to import: no taskiq, redis or aio-pika here)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from rainmaker import Seconds, Settings

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
REGISTRY_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class JobsSettings(Settings):
    """What every jobs pattern shares: registries, worker defaults and timings."""

    registries: list[str] = Field(
        default_factory=list,
        description="The app's own job registries, as 'package.module:attribute' naming a "
        "JobRegistry; patterns register theirs through ctx.jobs.register() at start.",
        examples=[["acme.jobs:registry"]],
    )
    queues: list[str] = Field(
        default_factory=lambda: ["default"],
        description="Queues a worker consumes when `rainmaker worker` gets no --queues.",
    )
    concurrency: int = Field(
        10, ge=1, le=10_000, description="Jobs one worker process runs at once by default."
    )
    drain_timeout: Seconds = Field(
        30.0,
        description="Seconds a stopping worker lets in-flight jobs finish before it cancels "
        "them and returns them to the queue.",
    )
    visibility_timeout: Seconds = Field(
        15.0,
        description="Seconds without a heartbeat after which a job taken by a worker counts "
        "as abandoned (the worker died) and is handed to another worker. A running job's "
        "worker renews it every third of this time, so long jobs are safe at any value. "
        "Trade-off: lower means a killed worker's jobs run again sooner; too low and a "
        "worker whose event loop stalls longer than this (a job blocking it with CPU work, "
        "a long GC pause) loses its jobs to another worker, which runs them a second time.",
    )
    idempotency_ttl: Seconds = Field(
        86_400.0,
        description="Seconds an idempotency key is remembered after its job was enqueued.",
    )
    scheduler: bool = Field(
        True,
        description="Whether workers enqueue periodic (cron) jobs; every worker may, each "
        "tick is claimed by exactly one.",
    )

    @field_validator("queues")
    @classmethod
    def _valid_queues(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one queue")
        for name in value:
            check_queue_name(name)
        return value

    @field_validator("registries")
    @classmethod
    def _valid_registries(cls, value: list[str]) -> list[str]:
        for path in value:
            if not REGISTRY_PATH.match(path):
                raise ValueError(
                    f"{path!r} is not 'package.module:attribute' (e.g. 'acme.jobs:registry')"
                )
        return value


def check_queue_name(name: str) -> str:
    """``name`` when it is a valid queue name; ``ValueError`` says what is allowed."""
    if not QUEUE_NAME.match(name):
        raise ValueError(f"queue name {name!r} must be 1-100 letters, digits, '_', '.' or '-'")
    return name


def check_server_url(url: str, schemes: tuple[str, ...], expected: str) -> str:
    """``url`` when it has one of ``schemes`` and names a host; else ``ValueError`` showing
    the ``expected`` form."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"expected {expected}")
    return url


class LocalJobsSettings(JobsSettings):
    """``jobs-local``: the queue lives in the app's own database; no server needed."""

    poll_interval: Seconds = Field(
        0.5,
        description="Seconds an idle worker waits before looking for jobs again (jobs "
        "enqueued in the same process wake it at once).",
    )
    batch_size: int = Field(
        20, ge=1, le=1000, description="Jobs one worker claims per query at most."
    )


class RedisJobsSettings(JobsSettings):
    """``jobs-redis``: Redis streams with consumer groups through taskiq-redis."""

    url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="redis://[user:password@]host:port/db, or rediss:// for TLS.",
        examples=["redis://127.0.0.1:6379/0"],
    )
    password: SecretStr | None = Field(
        None, description="Redis password (overrides one in the url); '${REDIS_PASSWORD}'."
    )
    key_prefix: str | None = Field(
        None,
        description="First segment of every stream and key this pattern writes; defaults "
        "to '<app name>.jobs'. Give two apps sharing one Redis different prefixes.",
    )
    connect_timeout: Seconds = Field(
        5.0, description="Seconds to reach Redis at start before failing with its address."
    )
    prefetch: int = Field(
        10, ge=1, le=1000, description="Messages one read from a stream may return."
    )
    reconcile_after: Seconds = Field(
        120.0,
        description="With a database composed, jobs enqueued inside a transaction stay in "
        "the table jobs_redis_tracked until a worker settles them; a worker sends again "
        "those Redis no longer holds (flushed, restarted without persistence, evicted) "
        "this many seconds after they were sent. Lower finds lost jobs sooner at the cost "
        "of more frequent checks.",
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return check_server_url(value, ("redis", "rediss"), "redis://host:port/db (or rediss://)")


class RabbitMqJobsSettings(JobsSettings):
    """``jobs-rabbitmq``: RabbitMQ through taskiq-aio-pika; needs the app's database for
    dead letters, periodic-tick claims and idempotency keys."""

    url: str = Field(
        "amqp://guest:guest@127.0.0.1:5672/",
        description="amqp://user:password@host:port/vhost (amqps:// for TLS). The password "
        "is redacted wherever settings are shown; prefer the password setting.",
        examples=["amqp://guest:guest@127.0.0.1:5672/"],
    )
    password: SecretStr | None = Field(
        None, description="RabbitMQ password (overrides one in the url)."
    )
    exchange: str | None = Field(
        None,
        description="Direct exchange the jobs are published to; defaults to '<app name>.jobs'. "
        "Queues are named '<exchange>.<queue>'.",
    )
    connect_timeout: Seconds = Field(
        5.0, description="Seconds to reach RabbitMQ at start before failing with its address."
    )

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return check_server_url(value, ("amqp", "amqps"), "amqp://user:password@host:port/vhost")
