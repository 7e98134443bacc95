"""The tables the payment patterns own (prefix ``payments_``), created by their migrations.

Provider ids are the primary keys of what the provider owns (subscriptions, invoices,
payments), so a webhook that reports an object twice updates one row. Owners are referred
to in ``user_id`` by their key as a plain string, never by foreign key (another pattern's
table): an ``auth_users.id``, or ``org:`` and an ``orgs_organizations.id``.
Times are ``UtcDateTime`` columns (aware UTC on every database), as in every Rainmaker pattern.
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

customers = Table(
    "payments_customers",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("provider_id", String(255), nullable=False),
    Column("email", String(320), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("provider_id", name="payments_customers_provider_key"),
)

checkouts = Table(
    "payments_checkouts",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("plan", String(64), nullable=True),
    Column("items", JSON, nullable=False),
    Column("amount", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("success_url", String(2048), nullable=False),
    Column("cancel_url", String(2048), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # The quantity of a subscription checkout: an organization's member count, else 1.
    Column("seats", Integer, nullable=False, default=1, server_default="1"),
    Index("payments_checkouts_user", "user_id"),
)

subscriptions = Table(
    "payments_subscriptions",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("plan", String(64), nullable=True),
    Column("status", String(32), nullable=False),
    Column("current_period_end", UtcDateTime(), nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Set when this subscription was ended because the user already held another (the
    # one named here): its payments are refunded, even those reported later.
    Column("duplicate_of", String(255), nullable=True),
    # The quantity the provider bills: an organization's member count, else 1.
    Column("seats", Integer, nullable=False, default=1, server_default="1"),
    Index("payments_subscriptions_user", "user_id"),
)

payments = Table(
    "payments_payments",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("amount_refunded", Integer, nullable=False, default=0),
    Column("invoice_id", String(255), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("payments_payments_user", "user_id"),
)

invoices = Table(
    "payments_invoices",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("subscription_id", String(255), nullable=True),
    Column("amount_due", Integer, nullable=False),
    Column("amount_paid", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("payments_invoices_user", "user_id"),
)

webhook_events = Table(
    "payments_webhook_events",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("type", String(128), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
)
