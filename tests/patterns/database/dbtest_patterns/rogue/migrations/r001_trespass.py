"""Create rogue_things (fine), then add a column to ledger_accounts (refused)."""

import sqlalchemy as sa
from alembic import op

revision = "r001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("rogue_things", sa.Column("id", sa.Integer(), primary_key=True))
    op.add_column("ledger_accounts", sa.Column("stolen", sa.Integer()))


def downgrade() -> None:
    op.drop_table("rogue_things")
