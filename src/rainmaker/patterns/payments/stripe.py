"""``payment-stripe``'s provider: the official ``stripe`` SDK with its async HTTP client.

One :class:`stripe.StripeClient` per module, built with the pinned API version, the
configured ``api_base`` (a stand-in such as localstripe in tests), an ``httpx`` client with
a timeout and the SDK's own network retries. Every create call carries an idempotency key,
so a retried request (by the SDK after a network error, or by our caller) never creates a
second customer, session or refund. SDK errors become pattern errors: a network failure,
timeout or 5xx is :class:`ProviderUnavailableError` (503); a refusal of what we sent is
:class:`ProviderError` (502) or, for a missing object, a 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar

import stripe

from rainmaker import NotFoundError
from rainmaker.capabilities.payments import LineItem
from rainmaker.patterns.payments.errors import ProviderError, ProviderUnavailableError
from rainmaker.patterns.payments.provider import ProviderCheckout, first_item
from rainmaker.patterns.payments.settings import StripeSettings

T = TypeVar("T")


class StripeProvider:
    """The :class:`~rainmaker.patterns.payments.provider.Provider` of ``payment-stripe``."""

    name = "stripe"

    def __init__(self, settings: StripeSettings, *, pattern_id: str) -> None:
        self.settings = settings
        self.pattern_id = pattern_id
        api_key = settings.api_key.get_secret_value() if settings.api_key else ""
        self._http = stripe.HTTPXClient(timeout=settings.timeout)
        base: Any = {"api": settings.api_base} if settings.api_base else None
        self.client = stripe.StripeClient(
            api_key or "sk_unset",
            stripe_version=settings.api_version,
            base_addresses=base,
            max_network_retries=settings.max_network_retries,
            http_client=self._http,
        )
        self.target = settings.api_base or "https://api.stripe.com"

    async def _call(self, what: str, request: Awaitable[T]) -> T:
        try:
            return await request
        except stripe.StripeError as error:
            self._raise(what, error)

    def _raise(self, what: str, error: stripe.StripeError) -> NoReturn:
        status = error.http_status or 0
        if isinstance(error, stripe.APIConnectionError) or status >= 500 or status == 429:
            raise ProviderUnavailableError(
                f"Stripe ({self.target}) could not {what}: {error.user_message or error}",
                pattern_id=self.pattern_id,
                hint="Stripe is unreachable or overloaded; try again shortly",
                cause=error,
            ) from error
        if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
            raise ProviderUnavailableError(
                f"Stripe refused the API key while trying to {what}",
                pattern_id=self.pattern_id,
                hint="check api_key of this payment-stripe instance",
                cause=error,
            ) from error
        if status == 404:
            raise NotFoundError(
                f"Stripe has no such object ({what}): {error.user_message or error}",
                pattern_id=self.pattern_id,
                cause=error,
            ) from error
        raise ProviderError(
            f"Stripe refused to {what}: {error.user_message or error}",
            pattern_id=self.pattern_id,
            cause=error,
        ) from error

    async def create_customer(self, *, user_id: str, email: str, idempotency_key: str) -> str:
        """A Stripe customer carrying the user id in its metadata."""
        customer = await self._call(
            "create a customer",
            self.client.v1.customers.create_async(
                {"email": email, "metadata": {"user_id": user_id}},
                {"idempotency_key": idempotency_key},
            ),
        )
        return str(customer.id)

    async def delete_customer(self, provider_id: str) -> None:
        """Delete the customer; one already gone counts as deleted."""
        try:
            await self._call(
                "delete a customer", self.client.v1.customers.delete_async(provider_id)
            )
        except NotFoundError:
            return

    async def retrieve_customer(self, provider_id: str) -> Mapping[str, Any] | None:
        """The customer as Stripe has it, ``None`` when it does not exist or was deleted."""
        try:
            customer = await self._call(
                "read a customer", self.client.v1.customers.retrieve_async(provider_id)
            )
        except NotFoundError:
            return None
        data = customer.to_dict()
        return None if data.get("deleted") else data

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
        """A Checkout Session: ``subscription`` mode for ``seats`` of a plan, ``payment``
        for items."""
        params: dict[str, Any] = {
            "customer": customer_id,
            "client_reference_id": user_id,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"user_id": user_id},
        }
        if plan_provider_id is not None:
            # A Plan id is accepted wherever a Price id is (Stripe keeps them in one space).
            params["mode"] = "subscription"
            params["line_items"] = [{"price": plan_provider_id, "quantity": seats}]
        else:
            params["mode"] = "payment"
            params["line_items"] = [
                {
                    "price_data": {
                        "currency": item.currency,
                        "unit_amount": item.amount,
                        "product_data": {"name": item.name},
                    },
                    "quantity": item.quantity,
                }
                for item in items
            ]
        session = await self._call(
            "create a checkout session",
            self.client.v1.checkout.sessions.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )
        return ProviderCheckout(id=str(session.id), url=str(session.url))

    async def cancel_subscription(
        self, subscription_id: str, *, at_period_end: bool
    ) -> Mapping[str, Any]:
        """Schedule the end (``cancel_at_period_end``) or cancel now."""
        if at_period_end:
            subscription = await self._call(
                "schedule a cancellation",
                self.client.v1.subscriptions.update_async(
                    subscription_id, {"cancel_at_period_end": True}
                ),
            )
        else:
            subscription = await self._call(
                "cancel a subscription",
                self.client.v1.subscriptions.cancel_async(subscription_id),
            )
        return subscription.to_dict()

    async def resume_subscription(self, subscription_id: str) -> Mapping[str, Any]:
        """Remove a scheduled cancellation."""
        subscription = await self._call(
            "resume a subscription",
            self.client.v1.subscriptions.update_async(
                subscription_id, {"cancel_at_period_end": False}
            ),
        )
        return subscription.to_dict()

    async def update_seats(self, subscription_id: str, seats: int) -> Mapping[str, Any]:
        """Set the quantity of the subscription's (one) item; Stripe prorates the change."""
        current = await self._call(
            "read a subscription", self.client.v1.subscriptions.retrieve_async(subscription_id)
        )
        item = first_item(current.to_dict())
        if not isinstance(item.get("id"), str):
            raise ProviderError(
                f"Stripe's subscription {subscription_id} has no item to set the seats of",
                pattern_id=self.pattern_id,
            )
        subscription = await self._call(
            "update the seats of a subscription",
            self.client.v1.subscriptions.update_async(
                subscription_id,
                {"items": [{"id": str(item["id"]), "quantity": seats}]},
            ),
        )
        return subscription.to_dict()

    async def refund(self, payment_id: str, amount: int, *, idempotency_key: str) -> str:
        """Refund a PaymentIntent (``pi_…``) or a Charge (``ch_…``)."""
        target = "charge" if payment_id.startswith("ch_") else "payment_intent"
        refund = await self._call(
            "create a refund",
            self.client.v1.refunds.create_async(
                {target: payment_id, "amount": amount},  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            ),
        )
        return str(refund.id)

    async def ping(self) -> None:
        """Read the balance once, without retries (health must answer quickly)."""
        await self._call(
            "answer a health check",
            self.client.v1.balance.retrieve_async(options={"max_network_retries": 0}),
        )

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._http.close_async()  # type: ignore[no-untyped-call]
