"""Create organizations, their members and invitations.

Revision ID: 0a9c7e11d001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0a9c7e11d001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# MySQL and MariaDB: DATETIME keeps microseconds and text compares case-sensitively (slugs
# and emails are stored lower-case, token hashes are hex), as on PostgreSQL and SQLite.
# Other backends ignore both.
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL_TABLE: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "orgs_organizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("deleted_at", DATETIME, nullable=True),
        sa.Column("purge_after", DATETIME, nullable=True),
        sa.UniqueConstraint("slug", name="orgs_organizations_slug_key"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "orgs_members",
        sa.Column("org_id", sa.String(36), sa.ForeignKey("orgs_organizations.id"), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("joined_at", DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "user_id", name="orgs_members_pkey"),
        **MYSQL_TABLE,
    )
    op.create_index("orgs_members_user", "orgs_members", ["user_id"])
    op.create_table(
        "orgs_invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_id", sa.String(36), sa.ForeignKey("orgs_organizations.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invited_by", sa.String(64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=False),
        sa.Column("accepted_at", DATETIME, nullable=True),
        sa.Column("accepted_by", sa.String(64), nullable=True),
        sa.Column("revoked_at", DATETIME, nullable=True),
        sa.UniqueConstraint("token_hash", name="orgs_invitations_token_key"),
        **MYSQL_TABLE,
    )
    op.create_index("orgs_invitations_org_email", "orgs_invitations", ["org_id", "email"])


def downgrade() -> None:
    op.drop_index("orgs_invitations_org_email", table_name="orgs_invitations")
    op.drop_table("orgs_invitations")
    op.drop_index("orgs_members_user", table_name="orgs_members")
    op.drop_table("orgs_members")
    op.drop_table("orgs_organizations")
