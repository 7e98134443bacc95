"""Mark subscriptions ended because the user already had one: ``duplicate_of``.

A second checkout for a plan can be paid at the provider while the first is completing;
the second subscription is then ended and its payments refunded. ``duplicate_of`` names
the subscription that kept the user's one slot, so a late ``invoice.paid`` of the
duplicate is refunded too, and no one mistakes it for a subscription the user cancelled.

Revision ID: 9a7e4e000002
Revises: 9a7e4e000001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a7e4e000002"
down_revision: str | Sequence[str] | None = "9a7e4e000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments_subscriptions") as batch:
        batch.add_column(sa.Column("duplicate_of", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payments_subscriptions") as batch:
        batch.drop_column("duplicate_of")
