"""The tables ``organizations`` owns (prefix ``orgs_``), created by its own migrations.

Times are ``UtcDateTime`` (aware UTC, ``rainmaker.utcnow``). Users are referred to by
their ``Auth`` id, never by a foreign key into another pattern's tables. Invitation tokens
are stored as their SHA-256 only; emails are stored case-folded, as they are compared.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

from rainmaker.capabilities.utc_datetime import UtcDateTime

metadata = MetaData()

organizations = Table(
    "orgs_organizations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("slug", String(63), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Column("purge_after", UtcDateTime(), nullable=True),
    # CurrentOrg refuses members whose token lacks a second factor (amr "otp").
    Column("require_two_factor", Boolean, nullable=False, default=False),
    # Deleted organizations keep their slug until purged, so a restore never collides.
    UniqueConstraint("slug", name="orgs_organizations_slug_key"),
)

members = Table(
    "orgs_members",
    metadata,
    Column("org_id", String(36), ForeignKey("orgs_organizations.id"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("joined_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("org_id", "user_id", name="orgs_members_pkey"),
    Index("orgs_members_user", "user_id"),
)

invitations = Table(
    "orgs_invitations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", String(36), ForeignKey("orgs_organizations.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("role", String(32), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("invited_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("accepted_at", UtcDateTime(), nullable=True),
    Column("accepted_by", String(64), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    UniqueConstraint("token_hash", name="orgs_invitations_token_key"),
    Index("orgs_invitations_org_email", "org_id", "email"),
)
