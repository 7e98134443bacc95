"""The ``Payments`` service both patterns register: the capability's API over a provider,
the local ledger and the event bus.

Provider calls cannot join a database transaction, so each method orders its work to leave
nothing inconsistent: create at the provider first, then write the ledger, and undo the
provider-side create (a saga compensation) when the write fails. Changes of subscription
state that the service makes itself (cancel, resume) update the ledger at once and emit the
same domain events the webhooks would; the later webhook for the same change then finds
nothing new and emits nothing.

Every method takes an owner (a user id, or :class:`~rainmaker.capabilities.payments.Owner`)
and works on its key, so the one-subscription rule and the webhook bookkeeping hold per
owner with no second code path. An organization's subscription is billed per seat: its
quantity is the organization's member count, read from ``Organizations`` at checkout and
reported again after each committed membership change (:meth:`PaymentsService.sync_seats`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin

from sqlalchemy import exc as sa_exc

from rainmaker import InvalidInputError, UnavailableError, utcnow
from rainmaker.capabilities.auth import User
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.organizations import OrganizationDirectory, OrgEvent
from rainmaker.capabilities.payments import (
    REFUND_CREATED,
    Checkout,
    Customer,
    EventHandler,
    InvalidAmountError,
    Invoice,
    LineItem,
    Owner,
    OwnerRef,
    Payment,
    PaymentEvent,
    Refund,
    Subscription,
    check_amount,
    owner_of,
    total_of,
)
from rainmaker.patterns.payments.errors import (
    NoCustomerError,
    NoPaymentError,
    NoSubscriptionError,
    PaymentStateError,
    ReturnUrlRefusedError,
    UnknownPlanError,
)
from rainmaker.patterns.payments.events import EventBus
from rainmaker.patterns.payments.ledger import CheckoutRecord, Ledger
from rainmaker.patterns.payments.provider import Provider
from rainmaker.patterns.payments.saga import Compensation, Saga
from rainmaker.patterns.payments.settings import PaymentsSettings, origin_of
from rainmaker.patterns.payments.webhooks import ENDED, WebhookProcessor

REFUNDABLE = frozenset({"succeeded", "partially_refunded"})


def idempotency_key(action: str) -> str:
    """A fresh key for one logical create; the SDK reuses it for its own retries."""
    return f"rainmaker-{action}-{uuid.uuid4()}"


class PaymentsService:
    """The :class:`~rainmaker.capabilities.payments.PaymentProcessor` of both patterns."""

    def __init__(
        self,
        settings: PaymentsSettings,
        *,
        db: SqlDatabase,
        provider: Provider,
        log: Any,
        pattern_id: str,
        directory: OrganizationDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.provider = provider
        self.log = log
        self.pattern_id = pattern_id
        self.directory = directory
        # One seat report at a time per organization, so two membership changes in a row
        # cannot leave the provider with the older count.
        self._seat_locks: dict[str, asyncio.Lock] = {}
        self.ledger = Ledger(db)
        self.bus = EventBus(db, log=log)
        self.webhooks = WebhookProcessor(
            db,
            self.ledger,
            self.bus,
            plans_by_provider_id={
                plan.provider_id or name: name for name, plan in settings.plans.items()
            },
            log=log,
            pattern_id=pattern_id,
            on_duplicate=self.end_duplicate,
        )

    # -- customers -------------------------------------------------------------------------

    async def create_customer(self, owner: OwnerRef, email: str) -> Customer:
        """The owner's customer; created at the provider (then recorded) when missing."""
        user_id = owner_of(owner).key
        existing = await self.ledger.customer(user_id)
        if existing is not None:
            return existing
        try:
            async with Saga("create_customer", log=self.log) as saga:
                customer = await self._create_customer(saga, user_id, email)
        except sa_exc.IntegrityError:
            # A concurrent call recorded the user's customer first; ours was undone.
            winner = await self.ledger.customer(user_id)
            if winner is None:
                raise
            return winner
        return customer

    async def _create_customer(self, saga: Saga, user_id: str, email: str) -> Customer:
        async def create() -> str:
            return await self.provider.create_customer(
                user_id=user_id, email=email, idempotency_key=idempotency_key("customer")
            )

        provider_id = await saga.step(
            create, undo=self.provider.delete_customer, name="provider_customer"
        )
        customer = await self.ledger.insert_customer(user_id, provider_id, email)
        self.log.info("payments.customer_created", user_id=user_id, provider=self.provider.name)
        return customer

    async def on_user_created(self, user: User) -> Compensation | None:
        """Auth's signup hook: the new user's customer, in the signup's transaction.

        The provider-side customer is a saga step: when recording it fails, it is deleted
        here; when it succeeds, the compensation is handed back to auth, which runs it if
        anything later in the signup fails (another hook, the commit).
        """
        saga = Saga("signup_customer", log=self.log)
        async with saga:
            await self._create_customer(saga, user.id, user.email)
        return saga.detach()

    async def get_customer(self, owner: OwnerRef) -> Customer | None:
        """The owner's customer, if any."""
        return await self.ledger.customer(owner_of(owner).key)

    async def _require_customer(self, user_id: str) -> Customer:
        customer = await self.ledger.customer(user_id)
        if customer is None:
            raise NoCustomerError(
                f"{_described(Owner.parse(user_id))} has no payments customer",
                pattern_id=self.pattern_id,
                hint="call create_customer(owner, email) first",
            )
        return customer

    # -- checkout --------------------------------------------------------------------------

    async def create_checkout(
        self,
        owner: OwnerRef,
        *,
        items: Sequence[LineItem] | None = None,
        plan: str | None = None,
        success_url: str,
        cancel_url: str,
        request_origin: str | None = None,
    ) -> Checkout:
        """A hosted checkout for ``items`` (one-time) or ``plan`` (subscription).

        ``success_url`` and ``cancel_url`` must lead to an allowed origin (see
        :meth:`PaymentsSettings.allowed_return_origins`; ``request_origin`` is the origin
        an HTTP request came in on): the checkout page sends the user there, so any other
        origin would make the app's checkout an open redirect. An organization's plan is
        billed for one seat per member.
        """
        payer = owner_of(owner)
        user_id = payer.key
        seats = 1
        if (items is None) == (plan is None):
            raise InvalidInputError(
                "give either items (a one-time payment) or plan (a subscription), not both",
                pattern_id=self.pattern_id,
            )
        self._check_return_urls(
            {"success_url": success_url, "cancel_url": cancel_url}, request_origin
        )
        currency = self.settings.currency
        line_items: list[LineItem] = []
        plan_provider_id: str | None = None
        if plan is not None:
            chosen = self.settings.plans.get(plan)
            if chosen is None:
                known = ", ".join(sorted(self.settings.plans)) or "none configured"
                raise UnknownPlanError(
                    f"no plan {plan!r} (plans: {known})", pattern_id=self.pattern_id
                )
            if payer.is_org:
                seats = await self.member_count(payer.id)
            amount = check_amount(chosen.amount * seats, what="subscription amount")
            plan_provider_id = chosen.provider_id or plan
            mode = "subscription"
            current = await self.ledger.slot_holder(user_id)
            if current is not None:
                raise PaymentStateError(
                    f"{_described(payer)} already has an active subscription ({current.plan})",
                    pattern_id=self.pattern_id,
                    hint="cancel it first, or change plans in the provider's portal",
                )
        else:
            line_items = list(items or ())
            if len(line_items) > self.settings.max_items:
                raise InvalidAmountError(
                    f"a checkout holds at most {self.settings.max_items} items",
                    pattern_id=self.pattern_id,
                )
            amount = total_of(line_items, currency)
            mode = "payment"
        customer = await self._require_customer(user_id)
        created = await self.provider.create_checkout(
            customer_id=customer.provider_id,
            user_id=user_id,
            items=line_items,
            plan_provider_id=plan_provider_id,
            success_url=success_url,
            cancel_url=cancel_url,
            idempotency_key=idempotency_key("checkout"),
            seats=seats,
        )
        # An orphaned provider session (if this insert fails) simply expires unpaid.
        await self.ledger.insert_checkout(
            CheckoutRecord(
                id=created.id,
                user_id=user_id,
                mode=mode,
                plan=plan,
                items=[item.as_dict() for item in line_items],
                amount=amount,
                currency=currency,
                status="open",
                success_url=success_url,
                cancel_url=cancel_url,
                created_at=utcnow(),
                seats=seats,
            )
        )
        self.log.info(
            "payments.checkout_created", user_id=user_id, mode=mode, plan=plan, seats=seats
        )
        return Checkout(
            id=created.id,
            # Always absolute: payment-local without public_url links a path of this app,
            # which a client (or a redirecting browser) must not resolve against elsewhere.
            url=urljoin(request_origin + "/", created.url) if request_origin else created.url,
            mode=mode,
            amount=amount,
            currency=currency,
            plan=plan,
            seats=seats,
        )

    def _check_return_urls(self, urls: dict[str, str], request_origin: str | None) -> None:
        allowed = self.settings.allowed_return_origins(request_origin)
        for key, url in urls.items():
            origin = origin_of(url)
            if origin is None:
                raise ReturnUrlRefusedError(
                    f"{key} must be an absolute http(s) URL without user info or "
                    f"backslashes, got {url!r}",
                    pattern_id=self.pattern_id,
                    hint="e.g. 'https://app.example/billing/done'",
                )
            if allowed is not None and origin not in allowed:
                shown = ", ".join(sorted(allowed)) or "none"
                raise ReturnUrlRefusedError(
                    f"{key} leads to {origin}, which is not an allowed return origin "
                    f"(allowed: {shown})",
                    pattern_id=self.pattern_id,
                    hint="return to the app's own pages, or list the origin in this "
                    "payments instance's return_origins setting",
                )

    # -- subscriptions ---------------------------------------------------------------------

    async def get_subscription(self, owner: OwnerRef) -> Subscription | None:
        """The owner's current (or most recent) subscription."""
        return await self.ledger.current_subscription(owner_of(owner).key)

    async def _live_subscription(self, owner: OwnerRef) -> Subscription:
        payer = owner_of(owner)
        subscription = await self.ledger.current_subscription(payer.key)
        if subscription is None or subscription.status in ENDED:
            raise NoSubscriptionError(
                f"{_described(payer)} has no subscription that has not ended",
                pattern_id=self.pattern_id,
            )
        return subscription

    async def cancel_subscription(
        self, owner: OwnerRef, at_period_end: bool = True
    ) -> Subscription:
        """Cancel at the period end (the default: the owner keeps what they paid for) or now."""
        subscription = await self._live_subscription(owner)
        answer = await self.provider.cancel_subscription(
            subscription.id, at_period_end=at_period_end
        )
        return await self._apply(answer)

    async def resume_subscription(self, owner: OwnerRef) -> Subscription:
        """Undo a cancellation scheduled for the period end."""
        subscription = await self._live_subscription(owner)
        if not subscription.cancel_at_period_end:
            raise PaymentStateError(
                "the subscription is not scheduled to end; there is nothing to resume",
                pattern_id=self.pattern_id,
            )
        answer = await self.provider.resume_subscription(subscription.id)
        return await self._apply(answer)

    # -- seats -----------------------------------------------------------------------------

    async def member_count(self, org_id: str) -> int:
        """The organization's member count: the seats its subscription is billed for."""
        if self.directory is None:
            raise UnavailableError(
                "billing an organization needs an Organizations pattern to count its members",
                pattern_id=self.pattern_id,
                hint="compose the organizations pattern beside this payments instance",
                public=True,  # written for the client: no host, no secret
            )
        return max(1, len(await self.directory.members(org_id)))

    async def sync_seats(self, org_id: str) -> Subscription | None:
        """Report the member count of ``org_id`` as its subscription's quantity.

        ``None`` when the organization has no live subscription (nothing is billed); the
        subscription unchanged when the provider already bills that many seats.
        """
        lock = self._seat_locks.setdefault(org_id, asyncio.Lock())
        async with lock:
            subscription = await self.ledger.current_subscription(Owner.org(org_id).key)
            if subscription is None or subscription.status in ENDED:
                return None
            seats = await self.member_count(org_id)
            if subscription.seats == seats:
                return subscription
            answer = await self.provider.update_seats(subscription.id, seats)
            saved = await self._apply(answer)
        self.log.info(
            "payments.seats_updated", org_id=org_id, subscription=saved.id, seats=saved.seats
        )
        return saved

    async def on_member_changed(self, event: OrgEvent) -> None:
        """``member.added`` / ``member.removed`` (after their commit): bill the new count."""
        await self.sync_seats(event.org_id)

    async def end_duplicate(self, subscription_id: str, cancel: bool) -> None:
        """End a subscription recorded as a duplicate at the provider: cancel it now (when
        ``cancel``) and refund what it was paid.

        Runs after the commit that recorded it; a failure is logged with the ids an
        operator needs (the ledger already shows the subscription ended), never raised
        into the webhook, which would make the provider deliver it again.
        """
        try:
            if cancel:
                await self.provider.cancel_subscription(subscription_id, at_period_end=False)
            for payment in await self.ledger.payments_of_subscription(subscription_id):
                if payment.status in REFUNDABLE:
                    await self.refund(payment.id)
        except Exception as error:
            self.log.error(
                "payments.duplicate_not_undone",
                subscription=subscription_id,
                error=repr(error),
                hint="cancel the subscription and refund its payment at the provider",
            )
            return
        self.log.info("payments.duplicate_undone", subscription=subscription_id)

    async def _apply(self, answer: Any) -> Subscription:
        async with self.db.transaction():
            deleted = answer.get("status") == "canceled"
            saved = await self.webhooks.apply_subscription(answer, deleted=deleted)
        if saved is None:
            raise NoSubscriptionError(
                f"the provider's subscription {answer.get('id')!r} has no known customer",
                pattern_id=self.pattern_id,
            )
        return saved

    # -- payments, refunds, invoices -------------------------------------------------------

    async def refund(self, payment_id: str, amount: int | None = None) -> Refund:
        """Refund ``amount`` (default: the rest) of a succeeded payment."""
        payment = await self.ledger.payment(payment_id)
        if payment is None:
            raise NoPaymentError(f"no payment {payment_id!r}", pattern_id=self.pattern_id)
        if payment.status not in REFUNDABLE:
            raise PaymentStateError(
                f"payment {payment_id!r} is {payment.status}; only succeeded payments can be "
                "refunded",
                pattern_id=self.pattern_id,
            )
        remaining = payment.amount - payment.amount_refunded
        chosen = remaining if amount is None else check_amount(amount, what="refund amount")
        if chosen > remaining:
            raise PaymentStateError(
                f"refund of {chosen} exceeds the {remaining} {payment.currency} not yet refunded",
                pattern_id=self.pattern_id,
            )
        refund_id = await self.provider.refund(
            payment_id, chosen, idempotency_key=idempotency_key("refund")
        )
        async with self.db.transaction():
            await self.ledger.add_refund(payment_id, chosen)
            refund = Refund(
                id=refund_id, payment_id=payment_id, amount=chosen, currency=payment.currency
            )
            await self.bus.emit(PaymentEvent(REFUND_CREATED, payment.user_id, refund.as_dict()))
        self.log.info("payments.refunded", payment_id=payment_id, amount=chosen)
        return refund

    async def list_invoices(self, owner: OwnerRef) -> list[Invoice]:
        """The owner's invoices as the webhooks reported them, newest first."""
        return await self.ledger.invoices_of(owner_of(owner).key)

    async def list_payments(self, owner: OwnerRef) -> list[Payment]:
        """The owner's payments, newest first."""
        return await self.ledger.payments_of(owner_of(owner).key)

    # -- events ----------------------------------------------------------------------------

    def subscribe(self, event: str, handler: EventHandler) -> None:
        """Call ``handler`` after each committed ``event``."""
        self.bus.subscribe(event, handler)


def _described(owner: Owner) -> str:
    """``user 'u1'`` or ``organization 'o1'``, for messages."""
    return f"{'organization' if owner.is_org else 'user'} {owner.id!r}"
