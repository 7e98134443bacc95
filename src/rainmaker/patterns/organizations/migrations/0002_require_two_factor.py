"""Organizations may require two-factor authentication of the members acting in them.

``orgs_organizations.require_two_factor`` (false for every existing organization): when
true, ``CurrentOrg`` refuses requests whose token was not issued after a second factor.

Revision ID: 0a9c7e11d002
Revises: 0a9c7e11d001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a9c7e11d002"
down_revision: str | Sequence[str] | None = "0a9c7e11d001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A server default fills the existing rows (SQLite adds a NOT NULL column only so).
    op.add_column(
        "orgs_organizations",
        sa.Column("require_two_factor", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("orgs_organizations") as batch:
        batch.drop_column("require_two_factor")
