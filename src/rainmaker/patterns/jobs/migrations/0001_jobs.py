"""Create the local queue, dead letters, periodic tick claims and idempotency keys.

Revision ID: 7a0b5e1c0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "7a0b5e1c0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# MySQL and MariaDB: DATETIME keeps microseconds (it would keep whole seconds, or round up,
# otherwise) and text compares case-sensitively, as on PostgreSQL and SQLite. Other
# backends ignore both.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "jobs_queue",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("available_at", DATETIME, nullable=False),
        sa.Column("claimed_until", DATETIME, nullable=True),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        **MYSQL_TABLE,
    )
    op.create_index("jobs_queue_ready", "jobs_queue", ["queue", "available_at", "id"])
    op.create_table(
        "jobs_dead_letters",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_index("jobs_dead_letters_failed_at", "jobs_dead_letters", ["failed_at"])
    op.create_table(
        "jobs_ticks",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tick", DATETIME, nullable=False),
        sa.Column("claimed_at", DATETIME, nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("name", "tick", name="jobs_ticks_pkey"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "jobs_idempotency",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("expires_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_index("jobs_idempotency_expires_at", "jobs_idempotency", ["expires_at"])


def downgrade() -> None:
    op.drop_index("jobs_idempotency_expires_at", table_name="jobs_idempotency")
    op.drop_table("jobs_idempotency")
    op.drop_table("jobs_ticks")
    op.drop_index("jobs_dead_letters_failed_at", table_name="jobs_dead_letters")
    op.drop_table("jobs_dead_letters")
    op.drop_index("jobs_queue_ready", table_name="jobs_queue")
    op.drop_table("jobs_queue")
