"""Add ledger_accounts.currency (a batch operation, so SQLite rebuilds the table)."""

import sqlalchemy as sa
from alembic import op

revision = "l002"
down_revision = "l001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_accounts") as batch:
        batch.add_column(sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"))
    op.create_index("ledger_accounts_name", "ledger_accounts", ["name"])


def downgrade() -> None:
    op.drop_index("ledger_accounts_name", table_name="ledger_accounts")
    with op.batch_alter_table("ledger_accounts") as batch:
        batch.drop_column("currency")
