"""Refresh families (sessions) get a row: absolute end, last use, revocation.

Every rotation locks its family row (``SELECT … FOR UPDATE`` on PostgreSQL and
MySQL/MariaDB; SQLite serialises writing transactions), so reuse detection and a
concurrent rotation of the same family cannot interleave, and a revoked family refuses
every token of it, including one issued a moment ago. ``expires_at`` caps the session at
``refresh_ttl`` from its login however often it rotates; ``last_used_at`` serves
``refresh_idle_timeout``.

Families of tokens issued before this revision are backfilled from their tokens: the
latest token expiry is their end, the latest issue their last use, and a family with no
token left unrevoked is revoked.

Revision ID: a7e1c0de0003
Revises: a7e1c0de0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "a7e1c0de0003"
down_revision: str | Sequence[str] | None = "a7e1c0de0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in the first revision: microsecond DATETIME and byte-wise text on MySQL and MariaDB.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "auth_refresh_families",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=False),
        sa.Column("last_used_at", DATETIME, nullable=False),
        sa.Column("revoked_at", DATETIME, nullable=True),
        **MYSQL_TABLE,
    )
    op.create_index("auth_refresh_families_user", "auth_refresh_families", ["user_id"])
    op.execute(
        "INSERT INTO auth_refresh_families"
        " (id, user_id, created_at, expires_at, last_used_at, revoked_at)"
        " SELECT family_id, MIN(user_id), MIN(created_at), MAX(expires_at), MAX(created_at),"
        " CASE WHEN SUM(CASE WHEN revoked_at IS NULL THEN 1 ELSE 0 END) = 0"
        " THEN MAX(revoked_at) END"
        " FROM auth_refresh_tokens GROUP BY family_id"
    )


def downgrade() -> None:
    op.drop_index("auth_refresh_families_user", table_name="auth_refresh_families")
    op.drop_table("auth_refresh_families")
