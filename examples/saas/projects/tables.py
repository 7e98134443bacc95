"""The tables ``projects`` owns, all prefixed ``projects_`` (created by its migrations)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

metadata = MetaData()

projects = Table(
    "projects_projects",
    metadata,
    Column("id", String(32), primary_key=True),
    # The organization the project belongs to (its id in ``orgs_organizations``; an id,
    # not a foreign key, since that table is another pattern's). Every query is scoped to
    # it. Null only for projects created before organizations existed (p002).
    Column("org_id", String(64), nullable=True, index=True),
    # The member who created it.
    Column("owner_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("file_key", String(500), nullable=True),
    Column("file_name", String(255), nullable=True),
    Column("file_size", Integer, nullable=True),
    Column("file_content_type", String(255), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per user whose welcome email went out: the job runs at least once, the email once.
welcomes = Table(
    "projects_welcomes",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)
