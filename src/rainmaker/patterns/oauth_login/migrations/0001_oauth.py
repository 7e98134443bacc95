"""Create the linked identities and one-time grants tables.

Revision ID: 0a7c3e1d0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0a7c3e1d0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# MySQL and MariaDB: microsecond times and byte-wise comparison (provider subjects are
# case-sensitive), as on PostgreSQL and SQLite. Other backends ignore both.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "oauth_identities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.UniqueConstraint("provider", "subject", name="oauth_identities_provider_subject_key"),
        **MYSQL_TABLE,
    )
    op.create_index("oauth_identities_user", "oauth_identities", ["user_id"])
    op.create_table(
        "oauth_grants",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_index("oauth_grants_expires", "oauth_grants", ["expires_at"])


def downgrade() -> None:
    op.drop_index("oauth_grants_expires", table_name="oauth_grants")
    op.drop_table("oauth_grants")
    op.drop_index("oauth_identities_user", table_name="oauth_identities")
    op.drop_table("oauth_identities")
