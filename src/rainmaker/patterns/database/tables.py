"""The tables the database patterns own: the transactional outbox.

Every name starts with ``rainmaker_``; this ``metadata`` is the migrations'
``target_metadata``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from rainmaker.capabilities.utc_datetime import UtcDateTime

metadata = MetaData()

outbox_table = Table(
    "rainmaker_outbox",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("topic", String(200), nullable=False),
    Column("payload", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_until", UtcDateTime(), nullable=True),
    Column("dispatched_at", UtcDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("rainmaker_outbox_pending", "dispatched_at", "topic", "id"),
)
