"""Two-factor authentication: encrypted TOTP secrets and hashed recovery codes.

``auth_two_factor`` holds one row per user who began enrolling (``confirmed_at`` stays
NULL until a first code confirms it) with the last accepted time step, so each code works
once. ``auth_recovery_codes`` holds ten single-use codes per user, as HMACs.

Revision ID: a7e1c0de0004
Revises: a7e1c0de0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "a7e1c0de0004"
down_revision: str | Sequence[str] | None = "a7e1c0de0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in the first revision: microsecond DATETIME and byte-wise text on MySQL and MariaDB.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "auth_two_factor",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("secret_encrypted", sa.String(512), nullable=False),
        sa.Column("confirmed_at", DATETIME, nullable=True),
        sa.Column("last_timestep", sa.Integer, nullable=True),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_table(
        "auth_recovery_codes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("used_at", DATETIME, nullable=True),
        **MYSQL_TABLE,
    )
    op.create_index("auth_recovery_codes_user", "auth_recovery_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index("auth_recovery_codes_user", table_name="auth_recovery_codes")
    op.drop_table("auth_recovery_codes")
    op.drop_table("auth_two_factor")
