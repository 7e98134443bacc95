"""Create jobs_redis_tracked: transactionally enqueued jobs until a worker settles them.

Revision ID: 5d3c9a7e0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "5d3c9a7e0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Same column conventions as the jobs_ tables: microsecond DATETIME and case-sensitive
# text on MySQL/MariaDB; other backends ignore both.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "jobs_redis_tracked",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("due_at", DATETIME, nullable=False),
        sa.Column("sent_at", DATETIME, nullable=True),
        sa.Column("resent", sa.Integer(), nullable=False, server_default="0"),
        **MYSQL_TABLE,
    )
    op.create_index("jobs_redis_tracked_sent_at", "jobs_redis_tracked", ["sent_at"])


def downgrade() -> None:
    op.drop_index("jobs_redis_tracked_sent_at", table_name="jobs_redis_tracked")
    op.drop_table("jobs_redis_tracked")
