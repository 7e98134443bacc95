"""Webhook processing: verify, parse, process each event exactly once, emit domain events.

:meth:`WebhookProcessor.receive` takes the raw body and the ``Stripe-Signature`` header;
anything unverifiable or unparsable is refused (400) before the database is touched.
:meth:`WebhookProcessor.process` then runs in one transaction: it records the event id in
``payments_webhook_events`` and applies the event to the ledger, so either both happen or
neither; a replayed or duplicated event finds its id already recorded and changes nothing
(a concurrent duplicate loses on the primary key and is treated the same way). Event types
this pattern does not handle are acknowledged (so the provider stops retrying), logged and
not recorded.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from sqlalchemy import exc as sa_exc

from rainmaker import utcnow
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.payments import (
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    SUBSCRIPTION_ACTIVATED,
    SUBSCRIPTION_CANCELED,
    SUBSCRIPTION_UPDATED,
    Invoice,
    PaymentEvent,
    Subscription,
)
from rainmaker.patterns.payments import signatures
from rainmaker.patterns.payments.errors import MalformedWebhookError
from rainmaker.patterns.payments.events import EventBus
from rainmaker.patterns.payments.ledger import HOLDS_SLOT, Ledger, from_timestamp
from rainmaker.patterns.payments.provider import period_end_of, plan_id_of, seats_of

PROCESSED = "processed"
DUPLICATE = "duplicate"
IGNORED = "ignored"

ACTIVE = frozenset({"active", "trialing"})
ENDED = frozenset({"canceled", "incomplete_expired"})

Handler = Callable[["WebhookProcessor", Mapping[str, Any]], Awaitable[None]]
DuplicateHandler = Callable[[str, bool], Awaitable[None]]
"""``(subscription_id, cancel)``: end a duplicate subscription at the provider (cancel it
when ``cancel``) and refund its payments; called after the commit that recorded it."""


class WebhookProcessor:
    """Applies provider events to the ledger and turns them into domain events."""

    def __init__(
        self,
        db: SqlDatabase,
        ledger: Ledger,
        bus: EventBus,
        *,
        plans_by_provider_id: Mapping[str, str],
        log: Any,
        pattern_id: str,
        on_duplicate: DuplicateHandler | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.bus = bus
        self.plans_by_provider_id = dict(plans_by_provider_id)
        self.log = log
        self.pattern_id = pattern_id
        self.on_duplicate = on_duplicate

    # -- entry points ----------------------------------------------------------------------

    async def receive(
        self, payload: bytes, signature: str | None, *, secret: str, tolerance: float
    ) -> str:
        """Verify and process one delivery; ``processed``, ``duplicate`` or ``ignored``."""
        signatures.verify(
            payload, signature, secret, tolerance=tolerance, pattern_id=self.pattern_id
        )
        return await self.process(self.parse(payload))

    def parse(self, payload: bytes) -> dict[str, Any]:
        """The event in ``payload``, or :class:`MalformedWebhookError`."""
        try:
            event = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedWebhookError(
                f"the webhook body is not JSON: {error}", pattern_id=self.pattern_id
            ) from error
        if not isinstance(event, dict):
            raise MalformedWebhookError("the webhook body is not a JSON object")
        data = event.get("data")
        if (
            not isinstance(event.get("id"), str)
            or not event["id"]
            or not isinstance(event.get("type"), str)
            or not isinstance(data, dict)
            or not isinstance(data.get("object"), dict)
        ):
            raise MalformedWebhookError(
                "the webhook body is not an event: it needs 'id', 'type' and 'data.object'",
                pattern_id=self.pattern_id,
            )
        return event

    async def process(self, event: Mapping[str, Any]) -> str:
        """Apply one parsed event exactly once (see the module docstring)."""
        event_id, kind = str(event["id"]), str(event["type"])
        handler = HANDLERS.get(kind)
        if handler is None:
            self.log.info("payments.webhook_ignored", event_id=event_id, type=kind)
            return IGNORED
        obj: Mapping[str, Any] = event["data"]["object"]
        try:
            async with self.db.transaction():
                if await self.ledger.event_seen(event_id):
                    self.log.info("payments.webhook_duplicate", event_id=event_id, type=kind)
                    return DUPLICATE
                await self.ledger.mark_event(event_id, kind)
                await handler(self, obj)
        except sa_exc.IntegrityError:
            # Another delivery of this event committed between our check and our insert.
            if await self.ledger.event_seen(event_id):
                self.log.info("payments.webhook_duplicate", event_id=event_id, type=kind)
                return DUPLICATE
            raise
        self.log.info("payments.webhook_processed", event_id=event_id, type=kind)
        return PROCESSED

    # -- shared pieces ---------------------------------------------------------------------

    async def user_of(self, obj: Mapping[str, Any]) -> str | None:
        """The user an object belongs to, through its customer (or checkout reference)."""
        customer_id = obj.get("customer")
        if isinstance(customer_id, str):
            customer = await self.ledger.customer_by_provider_id(customer_id)
            if customer is not None:
                return customer.user_id
        reference = obj.get("client_reference_id")
        return reference if isinstance(reference, str) and reference else None

    def plan_name(self, provider_plan_id: str | None) -> str | None:
        """The composition's name of a provider plan id (the id itself when unknown)."""
        if provider_plan_id is None:
            return None
        return self.plans_by_provider_id.get(provider_plan_id, provider_plan_id)

    async def apply_subscription(
        self, obj: Mapping[str, Any], *, deleted: bool = False
    ) -> Subscription | None:
        """Save a Stripe-shaped subscription and emit what its change means.

        The user's one-subscription rule holds here, where every provider's subscriptions
        arrive (webhooks, the local checkout, the service's own cancel and resume), not
        only when a checkout is created: two checkouts opened side by side can both be
        paid. Under the user's lock, a subscription that would start holding a slot while
        another holds it is saved as ended (``duplicate_of`` the holder), announces
        nothing, and is cancelled and refunded at the provider once this commits. An
        ended subscription stays ended (as at Stripe), so no late event revives one.
        """
        user_id = await self.user_of(obj)
        if user_id is None:
            self.log.warning("payments.unknown_customer", subscription=obj.get("id"))
            return None
        status = "canceled" if deleted else str(obj.get("status") or "incomplete")
        subscription = Subscription(
            id=str(obj["id"]),
            user_id=user_id,
            plan=self.plan_name(plan_id_of(obj)),
            status=status,
            current_period_end=from_timestamp(period_end_of(obj)),
            cancel_at_period_end=bool(obj.get("cancel_at_period_end")) and status not in ENDED,
            seats=seats_of(obj),
        )
        async with self.db.transaction():
            await self.ledger.lock_customer(user_id)
            previous = await self.ledger.subscription(subscription.id)
            if previous is not None and previous.status in ENDED and status not in ENDED:
                self.log.info(
                    "payments.ended_subscription_kept",
                    subscription=subscription.id,
                    reported=status,
                )
                return previous
            if status in HOLDS_SLOT and (previous is None or previous.status not in HOLDS_SLOT):
                holder = await self.ledger.slot_holder(user_id, exclude=subscription.id)
                if holder is not None:
                    ended = replace(subscription, status="canceled", cancel_at_period_end=False)
                    await self.ledger.save_subscription(ended, duplicate_of=holder.id)
                    self.log.warning(
                        "payments.duplicate_subscription_ended",
                        user_id=user_id,
                        subscription=subscription.id,
                        kept=holder.id,
                    )
                    self.end_duplicate_after_commit(subscription.id, cancel=True)
                    return ended
            await self.ledger.save_subscription(subscription)
            await self.emit_transition(previous, subscription)
        return subscription

    def end_duplicate_after_commit(self, subscription_id: str, *, cancel: bool) -> None:
        """Cancel (when ``cancel``) and refund a duplicate at the provider after the commit:
        provider calls cannot join the transaction, and must not run if it rolls back."""
        if self.on_duplicate is not None:
            self.db.on_commit(partial(self.on_duplicate, subscription_id, cancel))

    async def emit_transition(self, previous: Subscription | None, now: Subscription) -> None:
        """Emit ``activated``/``canceled`` on status transitions, ``updated`` on the rest."""
        data = now.as_dict()
        was_active = previous is not None and previous.status in ACTIVE
        was_ended = previous is not None and previous.status in ENDED
        if now.status in ACTIVE and not was_active:
            await self.bus.emit(PaymentEvent(SUBSCRIPTION_ACTIVATED, now.user_id, data))
        elif now.status in ENDED and not was_ended:
            await self.bus.emit(PaymentEvent(SUBSCRIPTION_CANCELED, now.user_id, data))
        elif previous is not None and previous != now:
            await self.bus.emit(PaymentEvent(SUBSCRIPTION_UPDATED, now.user_id, data))


# -- handlers, one per event type ----------------------------------------------------------


async def checkout_completed(processor: WebhookProcessor, obj: Mapping[str, Any]) -> None:
    """Close our checkout; a one-time checkout is a payment received."""
    checkout_id = str(obj.get("id"))
    await processor.ledger.close_checkout(checkout_id, "complete")
    user_id = await processor.user_of(obj)
    if user_id is None:
        processor.log.warning("payments.unknown_customer", checkout=checkout_id)
        return
    payment_id = obj.get("payment_intent")
    if obj.get("mode") == "payment" and isinstance(payment_id, str):
        amount = int(obj.get("amount_total") or 0)
        currency = str(obj.get("currency") or "")
        paid = obj.get("payment_status", "paid") == "paid"
        previous = await processor.ledger.save_payment(
            payment_id,
            user_id=user_id,
            amount=amount,
            currency=currency,
            status="succeeded" if paid else "pending",
        )
        if paid and previous is None:
            payment = await processor.ledger.payment(payment_id)
            assert payment is not None
            await processor.bus.emit(PaymentEvent(PAYMENT_SUCCEEDED, user_id, payment.as_dict()))
    subscription_id = obj.get("subscription")
    if isinstance(subscription_id, str):
        # Serialized with the subscription's own events (see apply_subscription).
        await processor.ledger.lock_customer(user_id)
    if (
        isinstance(subscription_id, str)
        and await processor.ledger.subscription(subscription_id) is None
    ):
        # The subscription events carry its state; until they arrive it is incomplete.
        await processor.ledger.save_subscription(
            Subscription(
                id=subscription_id,
                user_id=user_id,
                plan=None,
                status="incomplete",
                current_period_end=None,
                cancel_at_period_end=False,
            )
        )


async def subscription_changed(processor: WebhookProcessor, obj: Mapping[str, Any]) -> None:
    """``customer.subscription.created`` / ``updated``."""
    await processor.apply_subscription(obj)


async def subscription_deleted(processor: WebhookProcessor, obj: Mapping[str, Any]) -> None:
    """``customer.subscription.deleted``: the subscription has ended."""
    await processor.apply_subscription(obj, deleted=True)


async def invoice_event(processor: WebhookProcessor, obj: Mapping[str, Any], *, paid: bool) -> None:
    """Mirror the invoice, record its payment, and emit paid or failed."""
    user_id = await processor.user_of(obj)
    if user_id is None:
        processor.log.warning("payments.unknown_customer", invoice=obj.get("id"))
        return
    invoice_id = str(obj["id"])
    currency = str(obj.get("currency") or "")
    amount_due = int(obj.get("amount_due") or 0)
    subscription_id = obj.get("subscription")
    await processor.ledger.save_invoice(
        Invoice(
            id=invoice_id,
            user_id=user_id,
            subscription_id=subscription_id if isinstance(subscription_id, str) else None,
            amount_due=amount_due,
            amount_paid=int(obj.get("amount_paid") or 0),
            currency=currency,
            status=str(obj.get("status") or ("paid" if paid else "open")),
            created_at=from_timestamp(obj.get("created")) or utcnow(),
        )
    )
    payment_id = obj.get("payment_intent") or obj.get("charge") or invoice_id
    if not isinstance(payment_id, str):
        payment_id = invoice_id
    previous = await processor.ledger.save_payment(
        payment_id,
        user_id=user_id,
        amount=amount_due,
        currency=currency,
        status="succeeded" if paid else "failed",
        invoice_id=invoice_id,
    )
    if previous is not None and previous.status == ("succeeded" if paid else "failed"):
        return
    if (
        paid
        and isinstance(subscription_id, str)
        and await processor.ledger.duplicate_of(subscription_id) is not None
    ):
        # Paid for a subscription that was ended as a duplicate: refunded, not announced,
        # so no one grants anything for it.
        processor.log.warning(
            "payments.duplicate_invoice_paid", invoice=invoice_id, subscription=subscription_id
        )
        processor.end_duplicate_after_commit(subscription_id, cancel=False)
        return
    payment = await processor.ledger.payment(payment_id)
    assert payment is not None
    data = {**payment.as_dict(), "invoice_id": invoice_id, "subscription_id": subscription_id}
    await processor.bus.emit(
        PaymentEvent(PAYMENT_SUCCEEDED if paid else PAYMENT_FAILED, user_id, data)
    )


async def invoice_paid(processor: WebhookProcessor, obj: Mapping[str, Any]) -> None:
    """``invoice.paid``."""
    await invoice_event(processor, obj, paid=True)


async def invoice_payment_failed(processor: WebhookProcessor, obj: Mapping[str, Any]) -> None:
    """``invoice.payment_failed``."""
    await invoice_event(processor, obj, paid=False)


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_deleted,
    "invoice.paid": invoice_paid,
    "invoice.payment_failed": invoice_payment_failed,
}
