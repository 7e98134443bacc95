"""``payment-local``'s provider: a simulation of Stripe kept in the app's own database.

Customers, checkouts and refunds get ``l``-prefixed ids (``lcus_…``, ``lcs_…``) and cost
nothing. The hosted checkout is a page of this app (see :mod:`.routes`): completing it
produces the same Stripe-shaped events a real checkout would (``checkout.session.completed``,
``customer.subscription.created``, ``invoice.paid``), and they go through the same
webhook processor, so the ledger, the exactly-once bookkeeping and the domain events behave
as with Stripe.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rainmaker.capabilities.payments import LineItem
from rainmaker.patterns.payments.errors import NoSubscriptionError, PaymentStateError
from rainmaker.patterns.payments.ledger import CheckoutRecord, Ledger
from rainmaker.patterns.payments.provider import ProviderCheckout
from rainmaker.patterns.payments.settings import LocalPaymentsSettings

INTERVALS = {
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}

CHECKOUT_PAGE = "/local/checkout/{id}"


def new_id(prefix: str) -> str:
    """A provider-style id that cannot be guessed (checkout ids are the page's only key)."""
    return f"{prefix}_{secrets.token_hex(12)}"


class LocalProvider:
    """The :class:`~rainmaker.patterns.payments.provider.Provider` of ``payment-local``."""

    name = "local"

    def __init__(self, settings: LocalPaymentsSettings, ledger: Ledger, *, mount: str) -> None:
        self.settings = settings
        self.ledger = ledger
        self.mount = mount.rstrip("/")

    async def create_customer(self, *, user_id: str, email: str, idempotency_key: str) -> str:
        """A new local customer id (nothing to store beyond the ledger's row)."""
        return new_id("lcus")

    async def delete_customer(self, provider_id: str) -> None:
        """Nothing exists outside the ledger, so nothing to delete."""

    async def create_checkout(
        self,
        *,
        customer_id: str,
        user_id: str,
        items: Sequence[LineItem],
        plan_provider_id: str | None,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        seats: int = 1,
    ) -> ProviderCheckout:
        """A checkout whose hosted page is served by this app (seats are in the ledger)."""
        checkout_id = new_id("lcs")
        path = self.mount + CHECKOUT_PAGE.format(id=checkout_id)
        return ProviderCheckout(id=checkout_id, url=self.settings.public_url.rstrip("/") + path)

    async def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool
    ) -> Mapping[str, Any]:
        """The subscription scheduled to end, or ended now."""
        current = await self._subscription(subscription_id)
        if at_period_end:
            return {**current, "cancel_at_period_end": True}
        return {
            **current,
            "status": "canceled",
            "cancel_at_period_end": False,
            "canceled_at": int(time.time()),
        }

    async def resume_subscription(self, subscription_id: str) -> Mapping[str, Any]:
        """The subscription with its scheduled cancellation removed."""
        current = await self._subscription(subscription_id)
        return {**current, "cancel_at_period_end": False}

    async def update_seats(self, subscription_id: str, seats: int) -> Mapping[str, Any]:
        """The subscription billing ``seats`` (no proration: nothing is charged locally)."""
        current = await self._subscription(subscription_id)
        return {**current, "quantity": seats}

    async def refund(self, payment_id: str, amount: int, *, idempotency_key: str) -> str:
        """A local refund id; the ledger records the amount."""
        return new_id("lre")

    async def ping(self) -> None:
        """Always reachable: it is this process."""

    async def close(self) -> None:
        """Nothing to release."""

    async def _subscription(self, subscription_id: str) -> dict[str, Any]:
        subscription = await self.ledger.subscription(subscription_id)
        if subscription is None:
            raise NoSubscriptionError(f"no subscription {subscription_id!r}")
        customer = await self.ledger.customer(subscription.user_id)
        end = subscription.current_period_end
        return {
            "id": subscription.id,
            "object": "subscription",
            "customer": customer.provider_id if customer else None,
            "status": subscription.status,
            "plan": {"id": self._plan_provider_id(subscription.plan)},
            "current_period_end": int(end.replace(tzinfo=UTC).timestamp()) if end else None,
            "cancel_at_period_end": subscription.cancel_at_period_end,
            "quantity": subscription.seats,
        }

    def _plan_provider_id(self, plan: str | None) -> str | None:
        if plan is None or plan not in self.settings.plans:
            return plan
        return self.settings.plans[plan].provider_id or plan

    # -- the simulated hosted checkout -----------------------------------------------------

    def completion_events(
        self, checkout: CheckoutRecord, customer_id: str, *, fail: bool = False
    ) -> list[dict[str, Any]]:
        """The Stripe-shaped events a real checkout of ``checkout`` would send.

        ``fail`` simulates a declined card on a subscription's first invoice: the
        subscription starts ``incomplete`` and the invoice's payment fails.
        """
        if checkout.status != "open":
            raise PaymentStateError(f"checkout {checkout.id} is already {checkout.status}")
        now = int(time.time())
        session: dict[str, Any] = {
            "id": checkout.id,
            "object": "checkout.session",
            "customer": customer_id,
            "client_reference_id": checkout.user_id,
            "mode": checkout.mode,
            "amount_total": checkout.amount,
            "currency": checkout.currency,
            "status": "complete",
            "payment_status": "unpaid" if fail else "paid",
            "subscription": None,
            "payment_intent": None,
        }
        if checkout.mode == "payment":
            if fail:
                raise PaymentStateError("only subscription checkouts simulate a failed payment")
            session["payment_intent"] = new_id("lpi")
            return [event("checkout.session.completed", session, now)]
        plan = self.settings.plans[checkout.plan] if checkout.plan else None
        interval = INTERVALS[plan.interval if plan else "month"]
        subscription = {
            "id": new_id("lsub"),
            "object": "subscription",
            "customer": customer_id,
            "status": "incomplete" if fail else "active",
            "plan": {"id": self._plan_provider_id(checkout.plan)},
            "current_period_end": int((datetime.fromtimestamp(now, UTC) + interval).timestamp()),
            "cancel_at_period_end": False,
            "quantity": checkout.seats,
        }
        session["subscription"] = subscription["id"]
        invoice = {
            "id": new_id("lin"),
            "object": "invoice",
            "customer": customer_id,
            "subscription": subscription["id"],
            "amount_due": checkout.amount,
            "amount_paid": 0 if fail else checkout.amount,
            "currency": checkout.currency,
            "status": "open" if fail else "paid",
            "payment_intent": new_id("lpi"),
            "created": now,
        }
        return [
            event("checkout.session.completed", session, now),
            event("customer.subscription.created", subscription, now),
            event("invoice.payment_failed" if fail else "invoice.paid", invoice, now),
        ]


def event(kind: str, obj: Mapping[str, Any], created: int) -> dict[str, Any]:
    """A Stripe-shaped event envelope around ``obj``."""
    return {
        "id": new_id("levt"),
        "object": "event",
        "type": kind,
        "created": created,
        "livemode": False,
        "data": {"object": dict(obj)},
    }
