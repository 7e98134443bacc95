"""The local ledger: reads and writes of the ``payments_*`` tables.

Every method uses ``db.session()``, so it joins the caller's ``db.transaction()`` when one
is open (a webhook's updates and its "processed" mark commit together; a signup's user and
customer rows commit together) and runs in a unit of its own otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, insert, select, update

from rainmaker import utcnow
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.payments import Customer, Invoice, Payment, Subscription
from rainmaker.patterns.payments import tables

HOLDS_SLOT = frozenset({"active", "trialing", "past_due", "unpaid"})
"""Statuses in which a subscription still bills or serves the user: each user holds at most
one subscription in these (``incomplete`` has not been paid yet, so it holds no slot)."""


def from_timestamp(value: object) -> datetime | None:
    """A Unix timestamp from a provider payload as aware UTC (``None`` when absent)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True)
class CheckoutRecord:
    """A checkout this app started, as stored in ``payments_checkouts``."""

    id: str
    user_id: str
    mode: str
    plan: str | None
    items: list[dict[str, Any]]
    amount: int
    currency: str
    status: str
    success_url: str
    cancel_url: str
    created_at: datetime
    seats: int = 1


class Ledger:
    """Repository of the payment tables for one database."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    # -- customers -------------------------------------------------------------------------

    async def customer(self, user_id: str) -> Customer | None:
        """The customer of ``user_id``, if any."""
        row = await self._first(tables.customers, tables.customers.c.user_id == user_id)
        return _customer(row) if row is not None else None

    async def customer_by_provider_id(self, provider_id: str) -> Customer | None:
        """The customer the provider knows as ``provider_id``, if any."""
        table = tables.customers
        row = await self._first(table, table.c.provider_id == provider_id)
        return _customer(row) if row is not None else None

    async def insert_customer(self, user_id: str, provider_id: str, email: str) -> Customer:
        """Record a new customer (fails on a second customer for one user)."""
        now = utcnow()
        async with self.db.session() as session:
            await session.execute(
                insert(tables.customers).values(
                    user_id=user_id, provider_id=provider_id, email=email, created_at=now
                )
            )
        return Customer(user_id=user_id, provider_id=provider_id, email=email, created_at=now)

    async def lock_customer(self, user_id: str) -> None:
        """Hold the row lock of ``user_id``'s customer until the transaction ends.

        Every change that may give the user a subscription takes it first, so two of them
        (two checkouts completing, two webhook deliveries) run one after the other and the
        second sees what the first committed. SQLite has no row locks; its transactions
        take the database's write lock as they begin, which serializes them already.
        """
        table = tables.customers
        async with self.db.session() as session:
            await session.execute(
                select(table.c.user_id).where(table.c.user_id == user_id).with_for_update()
            )

    async def count_customers(self) -> int:
        """How many customers the ledger holds (health details, tests)."""
        return await self._count(tables.customers)

    # -- checkouts -------------------------------------------------------------------------

    async def insert_checkout(self, record: CheckoutRecord) -> None:
        """Record a checkout just created at the provider."""
        async with self.db.session() as session:
            await session.execute(
                insert(tables.checkouts).values(
                    id=record.id,
                    user_id=record.user_id,
                    mode=record.mode,
                    plan=record.plan,
                    items=record.items,
                    amount=record.amount,
                    currency=record.currency,
                    status=record.status,
                    success_url=record.success_url,
                    cancel_url=record.cancel_url,
                    created_at=record.created_at,
                    seats=record.seats,
                )
            )

    async def checkout(self, checkout_id: str) -> CheckoutRecord | None:
        """The checkout ``checkout_id``, if this app started it."""
        row = await self._first(tables.checkouts, tables.checkouts.c.id == checkout_id)
        return CheckoutRecord(**row) if row is not None else None

    async def close_checkout(self, checkout_id: str, status: str) -> bool:
        """Move an open checkout to ``status``; ``False`` when it was not open."""
        async with self.db.session() as session:
            result = await session.execute(
                update(tables.checkouts)
                .where(tables.checkouts.c.id == checkout_id, tables.checkouts.c.status == "open")
                .values(status=status)
            )
        return bool(getattr(result, "rowcount", 0))

    # -- subscriptions ---------------------------------------------------------------------

    async def subscription(self, subscription_id: str) -> Subscription | None:
        """The subscription ``subscription_id``, if known."""
        table = tables.subscriptions
        row = await self._first(table, table.c.id == subscription_id)
        return _subscription(row) if row is not None else None

    async def current_subscription(self, user_id: str) -> Subscription | None:
        """The user's newest subscription that has not ended, else their newest one."""
        rows = await self._newest_first(tables.subscriptions, user_id)
        found = [_subscription(row) for row in rows]
        for subscription in found:
            if subscription.status not in ("canceled", "incomplete_expired"):
                return subscription
        return found[0] if found else None

    async def slot_holder(self, user_id: str, *, exclude: str | None = None) -> Subscription | None:
        """The user's subscription that holds their one slot (see :data:`HOLDS_SLOT`),
        other than ``exclude``; ``None`` when the slot is free.

        A locking read: under MariaDB's repeatable read it sees the latest commit, not the
        transaction's snapshot.
        """
        table = tables.subscriptions
        query = (
            select(table)
            .where(table.c.user_id == user_id, table.c.status.in_(sorted(HOLDS_SLOT)))
            .order_by(table.c.created_at, table.c.id)
            .with_for_update()
        )
        if exclude is not None:
            query = query.where(table.c.id != exclude)
        async with self.db.session() as session:
            row = (await session.execute(query)).first()
        return _subscription(dict(row._mapping)) if row is not None else None

    async def duplicate_of(self, subscription_id: str) -> str | None:
        """The subscription ``subscription_id`` was ended in favour of, if it was."""
        table = tables.subscriptions
        async with self.db.session() as session:
            return (
                await session.execute(
                    select(table.c.duplicate_of).where(table.c.id == subscription_id)
                )
            ).scalar_one_or_none()

    async def payments_of_subscription(self, subscription_id: str) -> list[Payment]:
        """Payments of the invoices of ``subscription_id``."""
        payments, invoices = tables.payments, tables.invoices
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(payments).where(
                        payments.c.invoice_id.in_(
                            select(invoices.c.id).where(
                                invoices.c.subscription_id == subscription_id
                            )
                        )
                    )
                )
            ).all()
        return [_payment(dict(row._mapping)) for row in rows]

    async def save_subscription(
        self, subscription: Subscription, *, duplicate_of: str | None = None
    ) -> Subscription | None:
        """Insert or update ``subscription``; the previous state (``None`` when new).

        ``duplicate_of`` marks it as ended in favour of that subscription (kept once set).
        """
        table = tables.subscriptions
        previous = await self.subscription(subscription.id)
        now = utcnow()
        values: dict[str, Any] = {
            "user_id": subscription.user_id,
            "plan": subscription.plan,
            "status": subscription.status,
            "current_period_end": subscription.current_period_end,
            "cancel_at_period_end": subscription.cancel_at_period_end,
            "seats": subscription.seats,
            "updated_at": now,
        }
        if duplicate_of is not None:
            values["duplicate_of"] = duplicate_of
        async with self.db.session() as session:
            if previous is None:
                await session.execute(
                    insert(table).values(id=subscription.id, created_at=now, **values)
                )
            else:
                await session.execute(
                    update(table).where(table.c.id == subscription.id).values(**values)
                )
        return previous

    # -- payments --------------------------------------------------------------------------

    async def payment(self, payment_id: str) -> Payment | None:
        """The payment ``payment_id``, if known."""
        row = await self._first(tables.payments, tables.payments.c.id == payment_id)
        return _payment(row) if row is not None else None

    async def save_payment(
        self,
        payment_id: str,
        *,
        user_id: str,
        amount: int,
        currency: str,
        status: str,
        invoice_id: str | None = None,
    ) -> Payment | None:
        """Insert or update a payment's status; the previous state (``None`` when new)."""
        table = tables.payments
        previous = await self.payment(payment_id)
        async with self.db.session() as session:
            if previous is None:
                await session.execute(
                    insert(table).values(
                        id=payment_id,
                        user_id=user_id,
                        amount=amount,
                        currency=currency,
                        status=status,
                        amount_refunded=0,
                        invoice_id=invoice_id,
                        created_at=utcnow(),
                    )
                )
            else:
                await session.execute(
                    update(table).where(table.c.id == payment_id).values(status=status)
                )
        return previous

    async def add_refund(self, payment_id: str, amount: int) -> None:
        """Count ``amount`` more as refunded (and mark the payment refunded when whole)."""
        table = tables.payments
        payment = await self.payment(payment_id)
        if payment is None:
            return
        refunded = payment.amount_refunded + amount
        status = "refunded" if refunded >= payment.amount else "partially_refunded"
        async with self.db.session() as session:
            await session.execute(
                update(table)
                .where(table.c.id == payment_id)
                .values(amount_refunded=refunded, status=status)
            )

    async def payments_of(self, user_id: str) -> list[Payment]:
        """The user's payments, newest first."""
        return [_payment(row) for row in await self._newest_first(tables.payments, user_id)]

    # -- invoices --------------------------------------------------------------------------

    async def save_invoice(self, invoice: Invoice) -> None:
        """Insert or update an invoice as the provider reported it."""
        table = tables.invoices
        async with self.db.session() as session:
            exists = (
                await session.execute(select(table.c.id).where(table.c.id == invoice.id))
            ).first()
            values = {
                "user_id": invoice.user_id,
                "subscription_id": invoice.subscription_id,
                "amount_due": invoice.amount_due,
                "amount_paid": invoice.amount_paid,
                "currency": invoice.currency,
                "status": invoice.status,
            }
            if exists is None:
                await session.execute(
                    insert(table).values(id=invoice.id, created_at=invoice.created_at, **values)
                )
            else:
                await session.execute(
                    update(table).where(table.c.id == invoice.id).values(**values)
                )

    async def invoices_of(self, user_id: str) -> list[Invoice]:
        """The user's invoices, newest first."""
        return [Invoice(**row) for row in await self._newest_first(tables.invoices, user_id)]

    # -- webhook events --------------------------------------------------------------------

    async def event_seen(self, event_id: str) -> bool:
        """Whether the webhook event ``event_id`` was processed already."""
        table = tables.webhook_events
        async with self.db.session() as session:
            row = (await session.execute(select(table.c.id).where(table.c.id == event_id))).first()
        return row is not None

    async def mark_event(self, event_id: str, event_type: str) -> None:
        """Record ``event_id`` as processed (the primary key refuses a second record)."""
        async with self.db.session() as session:
            await session.execute(
                insert(tables.webhook_events).values(
                    id=event_id, type=event_type, received_at=utcnow()
                )
            )

    async def count_events(self) -> int:
        """How many webhook events were processed (tests, health)."""
        return await self._count(tables.webhook_events)

    async def forget_user(self, user_ids: Sequence[str]) -> None:
        """Delete every row of ``user_ids`` (used by tests and account erasure)."""
        async with self.db.session() as session:
            for table in (
                tables.customers,
                tables.checkouts,
                tables.subscriptions,
                tables.payments,
                tables.invoices,
            ):
                await session.execute(delete(table).where(table.c.user_id.in_(user_ids)))

    # -- queries the methods above share ---------------------------------------------------

    async def _first(self, table: Table, where: ColumnElement[bool]) -> dict[str, Any] | None:
        """The first row of ``table`` matching ``where``, as a dict; ``None`` when none does."""
        async with self.db.session() as session:
            row = (await session.execute(select(table).where(where))).first()
        return dict(row._mapping) if row is not None else None

    async def _newest_first(self, table: Table, user_id: str) -> list[dict[str, Any]]:
        """Every row of ``user_id`` in ``table``, newest first (ties: highest id first)."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(table)
                    .where(table.c.user_id == user_id)
                    .order_by(table.c.created_at.desc(), table.c.id.desc())
                )
            ).all()
        return [dict(row._mapping) for row in rows]

    async def _count(self, table: Table) -> int:
        """How many rows ``table`` holds."""
        async with self.db.session() as session:
            return int(
                (await session.execute(select(func.count()).select_from(table))).scalar_one()
            )


def _customer(row: Mapping[str, Any]) -> Customer:
    return Customer(
        user_id=row["user_id"],
        provider_id=row["provider_id"],
        email=row["email"],
        created_at=row["created_at"],
    )


def _subscription(row: Mapping[str, Any]) -> Subscription:
    return Subscription(
        id=row["id"],
        user_id=row["user_id"],
        plan=row["plan"],
        status=row["status"],
        current_period_end=row["current_period_end"],
        cancel_at_period_end=bool(row["cancel_at_period_end"]),
        seats=int(row.get("seats") or 1),
    )


def _payment(row: Mapping[str, Any]) -> Payment:
    return Payment(
        id=row["id"],
        user_id=row["user_id"],
        amount=row["amount"],
        currency=row["currency"],
        status=row["status"],
        amount_refunded=row["amount_refunded"],
        created_at=row["created_at"],
    )
