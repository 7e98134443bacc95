"""What the simulated hosted checkout of ``payment-local`` does when the user acts.

Completing (or failing) a checkout turns it into the provider events a real checkout
would cause and feeds them to the same webhook processor Stripe's deliveries go through;
cancelling closes it and sends the user back to the app's cancel URL.
"""

from __future__ import annotations

from typing import Literal

from rainmaker import NotFoundError
from rainmaker.patterns.payments.errors import PaymentStateError
from rainmaker.patterns.payments.ledger import CheckoutRecord
from rainmaker.patterns.payments.local import LocalProvider
from rainmaker.patterns.payments.service import PaymentsService


async def checkout_of(service: PaymentsService, checkout_id: str) -> CheckoutRecord:
    """The checkout ``checkout_id`` (404 when this app never started it)."""
    record = await service.ledger.checkout(checkout_id)
    if record is None:
        raise NotFoundError(f"no checkout {checkout_id!r}", pattern_id=service.pattern_id)
    return record


async def finish_checkout(
    service: PaymentsService, checkout_id: str, outcome: Literal["complete", "fail", "cancel"]
) -> str:
    """Apply ``outcome`` to an open checkout; the URL to send the user to.

    One transaction under the user's lock (see :meth:`Ledger.lock_customer`): two clicks
    on one checkout, or two checkouts of one user completed side by side, run one after
    the other, and the second sees the first. A subscription checkout of a user who
    already holds a subscription is closed unpaid (409), as the one-subscription rule
    says; nothing is charged.
    """
    provider = service.provider
    if not isinstance(provider, LocalProvider):
        raise NotFoundError("the simulated checkout exists only in payment-local")
    record = await checkout_of(service, checkout_id)
    refused: str | None = None
    async with service.db.transaction():
        await service.ledger.lock_customer(record.user_id)
        record = await checkout_of(service, checkout_id)  # as of the lock
        if record.status != "open":
            raise PaymentStateError(
                f"checkout {checkout_id} is already {record.status}",
                pattern_id=service.pattern_id,
            )
        if outcome == "cancel":
            await service.ledger.close_checkout(checkout_id, "canceled")
            return record.cancel_url
        customer = await service.ledger.customer(record.user_id)
        if customer is None:
            raise PaymentStateError(
                f"the user of checkout {checkout_id} has no customer any more",
                pattern_id=service.pattern_id,
            )
        holder = (
            await service.ledger.slot_holder(record.user_id)
            if record.mode == "subscription"
            else None
        )
        if holder is not None:
            await service.ledger.close_checkout(checkout_id, "canceled")
            refused = holder.plan or holder.id
        else:
            events = provider.completion_events(
                record, customer.provider_id, fail=outcome == "fail"
            )
            for event in events:
                await service.webhooks.process(event)
    if refused is not None:
        # Raised after the commit, so the checkout stays closed.
        raise PaymentStateError(
            f"you already have an active subscription ({refused}); checkout {checkout_id} "
            "was closed and nothing was charged",
            pattern_id=service.pattern_id,
            hint="cancel the current subscription first, or keep it",
        )
    return record.success_url
