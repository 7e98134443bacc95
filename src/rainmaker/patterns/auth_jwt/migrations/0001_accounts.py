"""Create users, refresh tokens and one-time (verification, reset) tokens.

Revision ID: a7e1c0de0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "a7e1c0de0001"
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
        "auth_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.UniqueConstraint("email", name="auth_users_email_key"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "auth_refresh_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=False),
        sa.Column("used_at", DATETIME, nullable=True),
        sa.Column("revoked_at", DATETIME, nullable=True),
        sa.UniqueConstraint("token_hash", name="auth_refresh_tokens_hash_key"),
        **MYSQL_TABLE,
    )
    op.create_index("auth_refresh_tokens_family", "auth_refresh_tokens", ["family_id"])
    op.create_index("auth_refresh_tokens_user", "auth_refresh_tokens", ["user_id"])
    op.create_table(
        "auth_one_time_tokens",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=False),
        sa.Column("used_at", DATETIME, nullable=True),
        sa.UniqueConstraint("token_hash", name="auth_one_time_tokens_hash_key"),
        **MYSQL_TABLE,
    )
    op.create_index("auth_one_time_tokens_user", "auth_one_time_tokens", ["user_id", "purpose"])


def downgrade() -> None:
    op.drop_index("auth_one_time_tokens_user", table_name="auth_one_time_tokens")
    op.drop_table("auth_one_time_tokens")
    op.drop_index("auth_refresh_tokens_user", table_name="auth_refresh_tokens")
    op.drop_index("auth_refresh_tokens_family", table_name="auth_refresh_tokens")
    op.drop_table("auth_refresh_tokens")
    op.drop_table("auth_users")
