"""Create the transactional outbox.

Revision ID: 5f1a0c9e0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "5f1a0c9e0001"
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
        "rainmaker_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_until", DATETIME, nullable=True),
        sa.Column("dispatched_at", DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        **MYSQL_TABLE,
    )
    op.create_index(
        "rainmaker_outbox_pending", "rainmaker_outbox", ["dispatched_at", "topic", "id"]
    )


def downgrade() -> None:
    op.drop_index("rainmaker_outbox_pending", table_name="rainmaker_outbox")
    op.drop_table("rainmaker_outbox")
