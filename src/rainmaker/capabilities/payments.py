"""The ``Payments`` capability: customers, checkout, subscriptions, refunds, invoices and
domain events, whichever provider (``payment-local``, ``payment-stripe``) runs them.

Amounts are integers in the currency's minor unit (cents for ``usd``) with a lower-case
ISO 4217 currency code; :class:`LineItem` validates both when it is built. Another pattern
reacts to payments by subscribing to domain events; handlers run only after the change
that caused them has committed::

    payments = ctx.services.require(Payments)

    async def grant_pro(event: PaymentEvent) -> None:
        await entitlements.grant(event.user_id, event.data["plan"])

    payments.subscribe(SUBSCRIPTION_ACTIVATED, grant_pro)

Importing this module imports neither stripe nor SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from rainmaker.kernel.capability import Capability
from rainmaker.kernel.errors import InvalidInputError

SUBSCRIPTION_ACTIVATED = "subscription.activated"
SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
REFUND_CREATED = "refund.created"

#: Every domain event a provider emits; ``subscribe`` refuses other names (typos).
EVENT_NAMES = frozenset(
    {
        SUBSCRIPTION_ACTIVATED,
        SUBSCRIPTION_UPDATED,
        SUBSCRIPTION_CANCELED,
        PAYMENT_SUCCEEDED,
        PAYMENT_FAILED,
        REFUND_CREATED,
    }
)

_CURRENCY = re.compile(r"^[a-z]{3}$")
MAX_AMOUNT = 99_999_999  # Stripe's limit for one amount in minor units


class InvalidAmountError(InvalidInputError):
    """An amount is not a positive integer in minor units, or a currency is malformed."""

    code: ClassVar[str] = "payments_invalid_amount"
    title: ClassVar[str] = "Invalid amount"


class CurrencyMismatchError(InvalidInputError):
    """Amounts in different currencies were combined, or one differs from the app's."""

    code: ClassVar[str] = "payments_currency_mismatch"
    title: ClassVar[str] = "Currency mismatch"


def check_currency(currency: object) -> str:
    """``currency`` when it is a lower-case three-letter ISO 4217 code."""
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise InvalidAmountError(
            f"currency {currency!r} is not a three-letter ISO 4217 code in lower case",
            hint="write e.g. 'usd' or 'eur'",
        )
    return currency


def check_amount(amount: object, *, what: str = "amount") -> int:
    """``amount`` when it is a positive integer of minor units within Stripe's limit."""
    # bool is an int subclass; True is not a price.
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidAmountError(
            f"{what} must be an integer number of minor units (cents), got {amount!r}",
            hint="send 1999 for 19.99",
        )
    if amount <= 0:
        raise InvalidAmountError(f"{what} must be greater than zero, got {amount}")
    if amount > MAX_AMOUNT:
        raise InvalidAmountError(f"{what} {amount} is above the limit of {MAX_AMOUNT}")
    return amount


@dataclass(frozen=True)
class LineItem:
    """One product line of a one-time checkout: ``quantity`` times ``amount`` in ``currency``."""

    name: str
    amount: int
    currency: str
    quantity: int = 1

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > 250:
            raise InvalidAmountError("a line item needs a name of 1 to 250 characters")
        check_amount(self.amount)
        check_currency(self.currency)
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise InvalidAmountError(f"quantity must be an integer, got {self.quantity!r}")
        if not 1 <= self.quantity <= 10_000:
            raise InvalidAmountError(f"quantity must be 1 to 10000, got {self.quantity}")

    @property
    def total(self) -> int:
        """``amount * quantity`` in minor units."""
        return self.amount * self.quantity

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "amount": self.amount,
            "currency": self.currency,
            "quantity": self.quantity,
        }


def total_of(items: Sequence[LineItem], currency: str) -> int:
    """The total of ``items``, all of which must be in ``currency``."""
    if not items:
        raise InvalidAmountError("a checkout needs at least one line item or a plan")
    wrong = sorted({item.currency for item in items if item.currency != currency})
    if wrong:
        raise CurrencyMismatchError(
            f"this app charges in {currency!r}; items in {', '.join(map(repr, wrong))} "
            "cannot be part of its checkout",
            hint=f"give every item currency {currency!r}",
        )
    return check_amount(sum(item.total for item in items), what="checkout total")


@dataclass(frozen=True)
class Customer:
    """A user's customer record at the provider."""

    user_id: str
    provider_id: str
    email: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "user_id": self.user_id,
            "provider_id": self.provider_id,
            "email": self.email,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Checkout:
    """A started checkout: send the user to ``url``; ``id`` is the provider's session id."""

    id: str
    url: str
    mode: str
    amount: int
    currency: str
    plan: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "url": self.url,
            "mode": self.mode,
            "amount": self.amount,
            "currency": self.currency,
            "plan": self.plan,
        }


@dataclass(frozen=True)
class Subscription:
    """A user's subscription as last reported by the provider.

    ``status`` uses Stripe's words (``active``, ``trialing``, ``past_due``, ``canceled``,
    ``incomplete``…); ``cancel_at_period_end`` says a cancellation is scheduled.
    """

    id: str
    user_id: str
    plan: str | None
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool

    @property
    def active(self) -> bool:
        """Whether the user currently has what the plan grants."""
        return self.status in ("active", "trialing")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        end = self.current_period_end
        return {
            "id": self.id,
            "user_id": self.user_id,
            "plan": self.plan,
            "status": self.status,
            "active": self.active,
            "current_period_end": end.isoformat() if end else None,
            "cancel_at_period_end": self.cancel_at_period_end,
        }


@dataclass(frozen=True)
class Payment:
    """Money received (or attempted): a one-time checkout or a paid invoice."""

    id: str
    user_id: str
    amount: int
    currency: str
    status: str
    amount_refunded: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "amount_refunded": self.amount_refunded,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Refund:
    """Money given back for ``payment_id``."""

    id: str
    payment_id: str
    amount: int
    currency: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "payment_id": self.payment_id,
            "amount": self.amount,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class Invoice:
    """A subscription invoice as last reported by the provider."""

    id: str
    user_id: str
    subscription_id: str | None
    amount_due: int
    amount_paid: int
    currency: str
    status: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "subscription_id": self.subscription_id,
            "amount_due": self.amount_due,
            "amount_paid": self.amount_paid,
            "currency": self.currency,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class PaymentEvent:
    """A domain event: ``name`` (one of :data:`EVENT_NAMES`), whose user, and its facts."""

    name: str
    user_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


EventHandler = Callable[[PaymentEvent], Awaitable[None]]


@runtime_checkable
class PaymentProcessor(Protocol):
    """What every ``Payments`` provider implements.

    Calls that change provider state and local rows keep them consistent: provider calls
    carry idempotency keys, and a local write that fails after a provider-side create undoes
    the create. An unreachable provider is an :class:`~rainmaker.UnavailableError` (503).
    """

    async def create_customer(self, user_id: str, email: str) -> Customer:
        """The user's customer, created at the provider unless it exists already."""
        ...

    async def get_customer(self, user_id: str) -> Customer | None:
        """The user's customer, if any."""
        ...

    async def create_checkout(
        self,
        user_id: str,
        *,
        items: Sequence[LineItem] | None = None,
        plan: str | None = None,
        success_url: str,
        cancel_url: str,
    ) -> Checkout:
        """A hosted checkout for one-time ``items`` or a subscription to ``plan``."""
        ...

    async def get_subscription(self, user_id: str) -> Subscription | None:
        """The user's current (or most recent) subscription."""
        ...

    async def cancel_subscription(self, user_id: str, at_period_end: bool = True) -> Subscription:
        """Cancel now, or at the end of the paid period (the default)."""
        ...

    async def resume_subscription(self, user_id: str) -> Subscription:
        """Undo a cancellation scheduled for the period end."""
        ...

    async def refund(self, payment_id: str, amount: int | None = None) -> Refund:
        """Give back ``amount`` (default: all that is not refunded yet) of a payment."""
        ...

    async def list_invoices(self, user_id: str) -> list[Invoice]:
        """The user's invoices, newest first."""
        ...

    async def list_payments(self, user_id: str) -> list[Payment]:
        """The user's payments, newest first."""
        ...

    def subscribe(self, event: str, handler: EventHandler) -> None:
        """Call ``handler`` after each committed ``event`` (see :data:`EVENT_NAMES`)."""
        ...


Payments: Capability[PaymentProcessor] = Capability(
    "Payments",
    PaymentProcessor,
    description="Customers, checkout, subscriptions, refunds, invoices and payment events.",
)
