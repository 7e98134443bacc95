"""Projects belong to organizations: add projects_projects.org_id (indexed).

Projects created before this revision keep a null ``org_id``: no organization sees them
(a user's personal organization did not exist then, and ``orgs_*`` is another pattern's
table, which this migration does not read).
"""

import sqlalchemy as sa
from alembic import op

revision = "projects_p002"
down_revision = "projects_p001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("projects_projects", sa.Column("org_id", sa.String(64), nullable=True))
    op.create_index("ix_projects_projects_org_id", "projects_projects", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_projects_projects_org_id", table_name="projects_projects")
    with op.batch_alter_table("projects_projects") as batch:
        batch.drop_column("org_id")
