"""The tables ``auth-jwt`` owns (prefix ``auth_``), created by its own migrations.

Times are ``UtcDateTime`` columns (stored as plain UTC, read back aware UTC everywhere);
``token_version`` grows with every password change, reset and disable; access tokens carry
the version they were issued under (claim ``tv``), so older ones stop working. A refresh
*family* (a session) is a row of its own: its absolute end, its last use (idle timeout)
and its revocation, locked by every rotation, so reuse detection and rotation serialise. Other
patterns refer to users by ``auth_users.id`` (a UUID string), never by foreign key.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from rainmaker.capabilities.utc_datetime import UtcDateTime

metadata = MetaData()

users = Table(
    "auth_users",
    metadata,
    Column("id", String(36), primary_key=True),
    # As typed (case kept); email_canonical is the case-folded lookup key (see users.py).
    Column("email", String(320), nullable=False),
    Column("email_canonical", String(320), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("verified", Boolean, nullable=False, default=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("token_version", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("email", name="auth_users_email_key"),
    UniqueConstraint("email_canonical", name="auth_users_email_canonical_key"),
)

refresh_families = Table(
    "auth_refresh_families",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Index("auth_refresh_families_user", "user_id"),
)

refresh_tokens = Table(
    "auth_refresh_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("family_id", String(36), nullable=False),
    Column("user_id", String(36), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    UniqueConstraint("token_hash", name="auth_refresh_tokens_hash_key"),
    Index("auth_refresh_tokens_family", "family_id"),
    Index("auth_refresh_tokens_user", "user_id"),
)

one_time_tokens = Table(
    "auth_one_time_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    UniqueConstraint("token_hash", name="auth_one_time_tokens_hash_key"),
    Index("auth_one_time_tokens_user", "user_id", "purpose"),
)

# One row per user who started enrolling: the TOTP secret encrypted (Fernet), confirmed_at
# NULL until a first code proves the authenticator app has it, and the last time step a
# code was accepted for, so a code works once (replay guard, RFC 6238 section 5.2).
two_factor = Table(
    "auth_two_factor",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("secret_encrypted", String(512), nullable=False),
    Column("confirmed_at", UtcDateTime(), nullable=True),
    Column("last_timestep", Integer, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Recovery codes: HMAC-SHA256 of the code (keyed, see two_factor.py), spent once.
recovery_codes = Table(
    "auth_recovery_codes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Index("auth_recovery_codes_user", "user_id"),
)
