"""The three jobs pattern declarations (light: no taskiq, redis or aio-pika import)."""

from __future__ import annotations

from pathlib import Path

from rainmaker import DocsSection, Pattern
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import Jobs
from rainmaker.capabilities.tracing import Tracing
from rainmaker.patterns.jobs.settings import (
    LocalJobsSettings,
    RabbitMqJobsSettings,
    RedisJobsSettings,
)

MIGRATIONS = "rainmaker.patterns.jobs.migrations"
TABLE_PREFIX = "jobs_"
# jobs-redis owns one table only (committed jobs until settled), on its own branch.
REDIS_MIGRATIONS = "rainmaker.patterns.jobs.redis_migrations"
REDIS_TABLE_PREFIX = "jobs_redis_"

# Every jobs backend documents the same worker and commands on its page.
RUNNING_WORKERS = DocsSection(
    "Running workers", (Path(__file__).parent / "running-workers.md").read_text(encoding="utf-8")
)
# What each backend guarantees and what its operator must configure, on every jobs page.
GUARANTEES = DocsSection(
    "Delivery guarantees per backend",
    (Path(__file__).parent / "guarantees.md").read_text(encoding="utf-8"),
)

jobs_local: Pattern[LocalJobsSettings] = Pattern(
    id="jobs-local",
    version="1.0.0",
    name="Local job queue",
    description="A durable job queue in the app's own database (leases, SKIP LOCKED on "
    "PostgreSQL); survives restarts with no extra server. Same contract as jobs-redis "
    "and jobs-rabbitmq.",
    settings=LocalJobsSettings,
    factory="rainmaker.patterns.jobs.module:LocalJobsModule",
    provides=[Jobs],
    requires=[Database, Tracing.optional()],
    docs=[RUNNING_WORKERS, GUARANTEES],
    examples=[{}, {"registries": ["acme.jobs:registry"], "concurrency": 4}],
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
)

jobs_redis: Pattern[RedisJobsSettings] = Pattern(
    id="jobs-redis",
    version="1.0.0",
    name="Redis job queue",
    description="Jobs on Redis streams (consumer groups, redelivery of abandoned jobs) "
    "through taskiq-redis; transactional enqueue through the database outbox when a "
    "database is composed, with committed jobs tracked there until a worker settles them "
    "and sent again if Redis loses them.",
    settings=RedisJobsSettings,
    factory="rainmaker.patterns.jobs.module:RedisJobsModule",
    provides=[Jobs],
    requires=[Database.optional(), Tracing.optional()],
    docs=[RUNNING_WORKERS, GUARANTEES],
    examples=[
        {"url": "redis://127.0.0.1:6379/0"},
        {"url": "redis://jobs.internal:6379/2", "password": "${REDIS_PASSWORD}", "concurrency": 50},
    ],
    migrations=REDIS_MIGRATIONS,
    table_prefix=REDIS_TABLE_PREFIX,
)

jobs_rabbitmq: Pattern[RabbitMqJobsSettings] = Pattern(
    id="jobs-rabbitmq",
    version="1.0.0",
    name="RabbitMQ job queue",
    description="Jobs on RabbitMQ durable queues through taskiq-aio-pika; dead letters, "
    "tick claims and idempotency keys in the app's database, transactional enqueue "
    "through its outbox.",
    settings=RabbitMqJobsSettings,
    factory="rainmaker.patterns.jobs.module:RabbitMqJobsModule",
    provides=[Jobs],
    requires=[Database, Tracing.optional()],
    docs=[RUNNING_WORKERS, GUARANTEES],
    examples=[
        {"url": "amqp://guest:guest@127.0.0.1:5672/"},
        {"url": "amqps://app@mq.internal:5671/prod", "password": "${AMQP_PASSWORD}"},
    ],
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
)
