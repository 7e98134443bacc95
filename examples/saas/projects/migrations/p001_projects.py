"""Create projects_projects and projects_welcomes."""

import sqlalchemy as sa
from alembic import op

revision = "projects_p001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects_projects",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("file_key", sa.String(500), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_size", sa.Integer(), nullable=True),
        sa.Column("file_content_type", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_projects_projects_owner_id", "projects_projects", ["owner_id"])
    op.create_table(
        "projects_welcomes",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("projects_welcomes")
    op.drop_index("ix_projects_projects_owner_id", table_name="projects_projects")
    op.drop_table("projects_projects")
