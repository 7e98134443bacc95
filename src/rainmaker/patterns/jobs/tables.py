"""The tables the jobs patterns keep in the app's database (prefix ``jobs_``).

``jobs_queue`` is the ``jobs-local`` queue itself; the others serve every backend that
keeps its bookkeeping in the database (``jobs-local`` and ``jobs-rabbitmq``): dead
letters, one claim row per periodic tick, and idempotency keys. Created only by this
pattern's migrations (``migrations/``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from rainmaker.capabilities.utc_datetime import UtcDateTime

metadata = MetaData()

queue_table = Table(
    "jobs_queue",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("queue", String(100), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("available_at", UtcDateTime(), nullable=False),
    Column("claimed_until", UtcDateTime(), nullable=True),
    Column("claimed_by", String(100), nullable=True),
    Index("jobs_queue_ready", "queue", "available_at", "id"),
)

dead_letters_table = Table(
    "jobs_dead_letters",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("failed_at", UtcDateTime(), nullable=False),
    Index("jobs_dead_letters_failed_at", "failed_at"),
)

ticks_table = Table(
    "jobs_ticks",
    metadata,
    Column("name", String(200), nullable=False),
    Column("tick", UtcDateTime(), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=False),
    Column("claimed_by", String(100), nullable=False),
    PrimaryKeyConstraint("name", "tick", name="jobs_ticks_pkey"),
)

idempotency_table = Table(
    "jobs_idempotency",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("jobs_idempotency_expires_at", "expires_at"),
)
