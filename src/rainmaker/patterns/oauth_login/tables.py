"""The tables ``oauth-login`` owns (prefix ``oauth_``), created by its own migrations.

``oauth_identities``: one provider account (``provider`` + its stable ``subject``) linked to
an ``Auth`` user id (never a foreign key). ``oauth_grants``: short-lived single-use
secrets — a started sign-in (``flow``, keyed by its ``state``), a one-time code for the
front end (``exchange``), a logged-in user's ticket to link a provider (``link``) — stored
by SHA-256 digest only. Times are ``UtcDateTime`` (aware UTC).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from rainmaker.capabilities.utc_datetime import UtcDateTime

metadata = MetaData()

identities = Table(
    "oauth_identities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("provider", String(40), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("email", String(320), nullable=True),
    Column("email_verified", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("provider", "subject", name="oauth_identities_provider_subject_key"),
    Index("oauth_identities_user", "user_id"),
)

grants = Table(
    "oauth_grants",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("data", JSON, nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("oauth_grants_expires", "expires_at"),
)
