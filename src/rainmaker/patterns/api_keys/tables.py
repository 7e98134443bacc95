"""The table ``api-keys`` owns (prefix ``api_keys_``), created by its own migrations.

``prefix`` is the public start of the key up to its lookup id (unique: a key is found by
it, then its digest compared in constant time); ``secret_hash`` is the SHA-256 of the whole
key. Times are ``UtcDateTime`` (aware UTC on every database). ``owner_id`` is an ``Auth``
user id, never a foreign key.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, MetaData, String, Table, UniqueConstraint

from rainmaker.capabilities.utc_datetime import UtcDateTime

metadata = MetaData()

keys = Table(
    "api_keys_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("prefix", String(40), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("last_used_at", UtcDateTime(), nullable=True),
    Column("last_used_from", String(45), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Column("rotated_from", String(36), nullable=True),
    UniqueConstraint("prefix", name="api_keys_keys_prefix_key"),
    Index("api_keys_keys_owner", "owner_id"),
)
