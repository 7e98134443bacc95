"""Create the counts table.

Revision ID: tally0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "tally0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tally_counts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tally_counts")
