"""Keep each address as typed: a separate, unique, case-folded lookup key.

Until now ``auth_users.email`` held the case-folded form, which is also what was mailed
(``straße@`` became ``strasse@``, another mailbox). From here ``email`` is the address as
typed and ``email_canonical`` the key lookups, uniqueness and attempt limits use. Rows
written before this revision stored the folded form in ``email``, which is exactly their
key, so the backfill copies it.

Revision ID: a7e1c0de0002
Revises: a7e1c0de0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7e1c0de0002"
down_revision: str | Sequence[str] | None = "a7e1c0de0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The new column inherits the table's utf8mb4_bin collation on MySQL and MariaDB (set by
# the first revision), so the key compares byte for byte there too.


def upgrade() -> None:
    # Nullable first, then filled, then NOT NULL: every backend can add a nullable column
    # to a table with rows. The batch block rebuilds the table on SQLite (which cannot
    # alter a column) and emits plain ALTER TABLE elsewhere.
    op.add_column("auth_users", sa.Column("email_canonical", sa.String(320), nullable=True))
    op.execute("UPDATE auth_users SET email_canonical = email")
    with op.batch_alter_table("auth_users") as batch:
        batch.alter_column("email_canonical", existing_type=sa.String(320), nullable=False)
        batch.create_unique_constraint("auth_users_email_canonical_key", ["email_canonical"])


def downgrade() -> None:
    # Folded addresses are what the first revision stored, so they go back into email.
    op.execute("UPDATE auth_users SET email = email_canonical")
    with op.batch_alter_table("auth_users") as batch:
        batch.drop_constraint("auth_users_email_canonical_key", type_="unique")
        batch.drop_column("email_canonical")
