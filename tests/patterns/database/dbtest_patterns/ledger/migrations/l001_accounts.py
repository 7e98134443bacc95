"""Create ledger_accounts."""

import sqlalchemy as sa
from alembic import op

revision = "l001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_accounts")
