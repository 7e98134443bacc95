"""Create the API keys table.

Revision ID: b4c1a9e50001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "b4c1a9e50001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# MySQL and MariaDB: DATETIME keeps microseconds and text compares byte-wise (the prefix
# lookup is case-sensitive), as on PostgreSQL and SQLite. Other backends ignore both.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "api_keys_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(40), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=True),
        sa.Column("last_used_at", DATETIME, nullable=True),
        sa.Column("last_used_from", sa.String(45), nullable=True),
        sa.Column("revoked_at", DATETIME, nullable=True),
        sa.Column("rotated_from", sa.String(36), nullable=True),
        sa.UniqueConstraint("prefix", name="api_keys_keys_prefix_key"),
        **MYSQL_TABLE,
    )
    op.create_index("api_keys_keys_owner", "api_keys_keys", ["owner_id"])


def downgrade() -> None:
    op.drop_index("api_keys_keys_owner", table_name="api_keys_keys")
    op.drop_table("api_keys_keys")
