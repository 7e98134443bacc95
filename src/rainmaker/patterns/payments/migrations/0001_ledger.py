"""Create customers, checkouts, subscriptions, payments, invoices and processed webhook events.

Revision ID: 9a7e4e000001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "9a7e4e000001"
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
        "payments_customers",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("provider_id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.UniqueConstraint("provider_id", name="payments_customers_provider_key"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "payments_checkouts",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("plan", sa.String(64), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("success_url", sa.String(2048), nullable=False),
        sa.Column("cancel_url", sa.String(2048), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_index("payments_checkouts_user", "payments_checkouts", ["user_id"])
    op.create_table(
        "payments_subscriptions",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("plan", sa.String(64), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("current_period_end", DATETIME, nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_index("payments_subscriptions_user", "payments_subscriptions", ["user_id"])
    op.create_table(
        "payments_payments",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount_refunded", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("invoice_id", sa.String(255), nullable=True),
        sa.Column("created_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_index("payments_payments_user", "payments_payments", ["user_id"])
    op.create_table(
        "payments_invoices",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(255), nullable=True),
        sa.Column("amount_due", sa.Integer(), nullable=False),
        sa.Column("amount_paid", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )
    op.create_index("payments_invoices_user", "payments_invoices", ["user_id"])
    op.create_table(
        "payments_webhook_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("received_at", DATETIME, nullable=False),
        **MYSQL_TABLE,
    )


def downgrade() -> None:
    op.drop_table("payments_webhook_events")
    op.drop_index("payments_invoices_user", table_name="payments_invoices")
    op.drop_table("payments_invoices")
    op.drop_index("payments_payments_user", table_name="payments_payments")
    op.drop_table("payments_payments")
    op.drop_index("payments_subscriptions_user", table_name="payments_subscriptions")
    op.drop_table("payments_subscriptions")
    op.drop_index("payments_checkouts_user", table_name="payments_checkouts")
    op.drop_table("payments_checkouts")
    op.drop_table("payments_customers")
