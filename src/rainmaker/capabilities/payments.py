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

**Owners.** Customers, subscriptions, payments and invoices belong to an *owner*: a user
(every method takes a plain user id, as it always did) or an organization, named with
:meth:`Owner.org`. An organization's subscription is billed per seat: its quantity at the
provider is the organization's member count, kept up to date as members are added and
removed (when an ``Organizations`` pattern is composed)::

    org = Owner.org(active.id)                    # active: rainmaker.http's CurrentOrg
    await payments.create_customer(org, billing_email)
    checkout = await payments.create_checkout(org, plan="team", success_url=..., cancel_url=...)
    subscription = await payments.get_subscription(org)   # .seats, .active, .owner

Records keep the owner in ``user_id`` as its :attr:`Owner.key` (the user id itself, or
``org:<org id>``); their ``owner`` property gives it back as an :class:`Owner`, and so does
:attr:`PaymentEvent.owner` for handlers that serve both kinds.

Importing this module imports neither stripe nor SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, TypeAlias, runtime_checkable

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


ORG_OWNER_PREFIX = "org:"
"""How an organization owner's key starts: ``org:<org id>`` (user ids never contain ``:``)."""


@dataclass(frozen=True)
class Owner:
    """Who pays: a user (``kind="user"``) or an organization (``kind="org"``), by id."""

    kind: Literal["user", "org"]
    id: str

    def __post_init__(self) -> None:
        if self.kind not in ("user", "org"):
            raise InvalidInputError(f"an owner is a 'user' or an 'org', not {self.kind!r}")
        if not isinstance(self.id, str) or not self.id or ":" in self.id:
            raise InvalidInputError(f"an owner id is a non-empty id without ':', got {self.id!r}")

    @classmethod
    def user(cls, user_id: str) -> Owner:
        """The user ``user_id`` as an owner."""
        return cls("user", user_id)

    @classmethod
    def org(cls, org_id: str) -> Owner:
        """The organization ``org_id`` as an owner (billed per seat)."""
        return cls("org", org_id)

    @classmethod
    def parse(cls, key: str) -> Owner:
        """The owner a stored key (:attr:`key`) names."""
        if key.startswith(ORG_OWNER_PREFIX):
            return cls.org(key[len(ORG_OWNER_PREFIX) :])
        return cls.user(key)

    @property
    def key(self) -> str:
        """The stored form: the user id, or ``org:<org id>``."""
        return self.id if self.kind == "user" else ORG_OWNER_PREFIX + self.id

    @property
    def is_org(self) -> bool:
        """Whether an organization owns (and pays per seat)."""
        return self.kind == "org"


OwnerRef: TypeAlias = str | Owner
"""What the methods of :class:`PaymentProcessor` accept: a user id, or an :class:`Owner`."""


def owner_of(owner: str | Owner) -> Owner:
    """``owner`` as an :class:`Owner` (a plain string is a user id, as before owners)."""
    if isinstance(owner, Owner):
        return owner
    if not isinstance(owner, str) or not owner:
        raise InvalidInputError(f"an owner is a user id or an Owner, got {owner!r}")
    if owner.startswith(ORG_OWNER_PREFIX):
        # A stored key handed back (e.g. from an event's user_id): read it as what it names.
        return Owner.parse(owner)
    return Owner.user(owner)


@dataclass(frozen=True)
class Customer:
    """An owner's customer record at the provider (``user_id`` holds the owner's key)."""

    user_id: str
    provider_id: str
    email: str
    created_at: datetime

    @property
    def owner(self) -> Owner:
        """The user or organization this customer is."""
        return Owner.parse(self.user_id)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "user_id": self.user_id,
            "owner": _owner_dict(self.user_id),
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
    seats: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "url": self.url,
            "mode": self.mode,
            "amount": self.amount,
            "currency": self.currency,
            "plan": self.plan,
            "seats": self.seats,
        }


@dataclass(frozen=True)
class Subscription:
    """A user's subscription as last reported by the provider.

    ``status`` uses Stripe's words (``active``, ``trialing``, ``past_due``, ``canceled``,
    ``incomplete``…); ``cancel_at_period_end`` says a cancellation is scheduled; ``seats``
    is the quantity billed (an organization's member count; 1 for a user).
    """

    id: str
    user_id: str
    plan: str | None
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    seats: int = 1

    @property
    def active(self) -> bool:
        """Whether the owner currently has what the plan grants."""
        return self.status in ("active", "trialing")

    @property
    def owner(self) -> Owner:
        """The user or organization subscribed."""
        return Owner.parse(self.user_id)

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
            "seats": self.seats,
            "owner": _owner_dict(self.user_id),
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

    @property
    def owner(self) -> Owner:
        """The user or organization that paid."""
        return Owner.parse(self.user_id)

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

    @property
    def owner(self) -> Owner:
        """The user or organization billed."""
        return Owner.parse(self.user_id)

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
    """A domain event: ``name`` (one of :data:`EVENT_NAMES`), whose owner (its key in
    ``user_id``: a user id, or ``org:<org id>``), and its facts."""

    name: str
    user_id: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def owner(self) -> Owner:
        """The user or organization the event is about."""
        return Owner.parse(self.user_id)


def _owner_dict(key: str) -> dict[str, str]:
    owner = Owner.parse(key)
    return {"kind": owner.kind, "id": owner.id}


EventHandler = Callable[[PaymentEvent], Awaitable[None]]


@runtime_checkable
class PaymentProcessor(Protocol):
    """What every ``Payments`` provider implements.

    Calls that change provider state and local rows keep them consistent: provider calls
    carry idempotency keys, and a local write that fails after a provider-side create undoes
    the create. An unreachable provider is an :class:`~rainmaker.UnavailableError` (503).
    """

    async def create_customer(self, owner: OwnerRef, email: str) -> Customer:
        """The owner's customer, created at the provider unless it exists already."""
        ...

    async def get_customer(self, owner: OwnerRef) -> Customer | None:
        """The owner's customer, if any."""
        ...

    async def create_checkout(
        self,
        owner: OwnerRef,
        *,
        items: Sequence[LineItem] | None = None,
        plan: str | None = None,
        success_url: str,
        cancel_url: str,
    ) -> Checkout:
        """A hosted checkout for one-time ``items`` or a subscription to ``plan``
        (for an organization: one seat per member)."""
        ...

    async def get_subscription(self, owner: OwnerRef) -> Subscription | None:
        """The owner's current (or most recent) subscription."""
        ...

    async def cancel_subscription(
        self, owner: OwnerRef, at_period_end: bool = True
    ) -> Subscription:
        """Cancel now, or at the end of the paid period (the default)."""
        ...

    async def resume_subscription(self, owner: OwnerRef) -> Subscription:
        """Undo a cancellation scheduled for the period end."""
        ...

    async def sync_seats(self, org_id: str) -> Subscription | None:
        """Report the organization's member count to the provider as its subscription's
        quantity; the subscription as it now is (``None`` when it has none live).

        Runs by itself after each committed ``member.added`` / ``member.removed``."""
        ...

    async def refund(self, payment_id: str, amount: int | None = None) -> Refund:
        """Give back ``amount`` (default: all that is not refunded yet) of a payment."""
        ...

    async def list_invoices(self, owner: OwnerRef) -> list[Invoice]:
        """The owner's invoices, newest first."""
        ...

    async def list_payments(self, owner: OwnerRef) -> list[Payment]:
        """The owner's payments, newest first."""
        ...

    def subscribe(self, event: str, handler: EventHandler) -> None:
        """Call ``handler`` after each committed ``event`` (see :data:`EVENT_NAMES`)."""
        ...


Payments: Capability[PaymentProcessor] = Capability(
    "Payments",
    PaymentProcessor,
    description="Customers, checkout, subscriptions, refunds, invoices and payment events.",
)
