"""What the payments service needs from a provider, and the Stripe-shaped payloads both
providers speak.

The service owns the local ledger and the events; a provider only talks to the outside
(Stripe) or simulates it (``payment-local``). Subscriptions travel as Stripe-shaped
mappings (``id``, ``customer``, ``status``, ``plan``, ``current_period_end``,
``cancel_at_period_end``…), so the answer of a cancel call and a webhook's
``customer.subscription.updated`` go through one parser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rainmaker.capabilities.payments import LineItem


@dataclass(frozen=True)
class ProviderCheckout:
    """A hosted checkout created at the provider: its id and where to send the user."""

    id: str
    url: str


class Provider(Protocol):
    """The outside-world half of a payments pattern."""

    name: str

    async def create_customer(self, *, user_id: str, email: str, idempotency_key: str) -> str:
        """Create a customer; its provider id."""
        ...

    async def delete_customer(self, provider_id: str) -> None:
        """Delete a customer (a compensation: succeeds when it is already gone)."""
        ...

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
        """Create a hosted checkout for ``items`` or for ``seats`` of the plan
        ``plan_provider_id``."""
        ...

    async def update_seats(self, subscription_id: str, seats: int) -> Mapping[str, Any]:
        """Bill ``seats`` from now on; the subscription as the provider now has it."""
        ...

    async def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool
    ) -> Mapping[str, Any]:
        """Cancel now or at the period end; the subscription as the provider now has it."""
        ...

    async def resume_subscription(self, subscription_id: str) -> Mapping[str, Any]:
        """Undo a scheduled cancellation; the subscription as the provider now has it."""
        ...

    async def refund(self, payment_id: str, amount: int, *, idempotency_key: str) -> str:
        """Refund ``amount`` of a payment; the refund's provider id."""
        ...

    async def ping(self) -> None:
        """One cheap round trip; raises ``ProviderUnavailableError`` when it fails."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def plan_id_of(subscription: Mapping[str, Any]) -> str | None:
    """The plan (or price) id of a Stripe-shaped subscription, old or new API shape."""
    plan = subscription.get("plan")
    if isinstance(plan, Mapping) and isinstance(plan.get("id"), str):
        return str(plan["id"])
    item = first_item(subscription)
    for key in ("plan", "price"):
        value = item.get(key)
        if isinstance(value, Mapping) and isinstance(value.get("id"), str):
            return str(value["id"])
    return None


def seats_of(subscription: Mapping[str, Any]) -> int:
    """The quantity of a Stripe-shaped subscription (its first item's, on newer APIs)."""
    for value in (subscription.get("quantity"), first_item(subscription).get("quantity")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 1


def period_end_of(subscription: Mapping[str, Any]) -> Any:
    """``current_period_end``: on the subscription before API 2025-03-31, on items after."""
    value = subscription.get("current_period_end")
    if value is None:
        value = first_item(subscription).get("current_period_end")
    return value


def first_item(subscription: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first subscription item, or an empty mapping."""
    items = subscription.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return data[0]
    return {}
