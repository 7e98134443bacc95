"""Seats: the quantity a subscription (and the checkout that starts it) is billed for.

An organization's subscription is billed per member; a user's stays at one seat, which is
what every row written before this revision was.

Revision ID: 9a7e4e000003
Revises: 9a7e4e000002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a7e4e000003"
down_revision: str | Sequence[str] | None = "9a7e4e000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("payments_checkouts", "payments_subscriptions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("seats", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("seats")
