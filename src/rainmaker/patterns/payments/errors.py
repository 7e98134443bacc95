"""Errors of the payment patterns, each with a stable code and the HTTP status it maps to.

Amount and currency errors live with the value types in
:mod:`rainmaker.capabilities.payments`, since callers build those.
"""

from __future__ import annotations

from typing import ClassVar

from rainmaker import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PatternError,
    UnavailableError,
)


class WebhookRejectedError(PatternError):
    """A webhook request that is not a verifiable event: 400, and nothing is recorded."""

    code: ClassVar[str] = "payments_webhook_rejected"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Webhook rejected"


class WebhookSignatureError(WebhookRejectedError):
    """The ``Stripe-Signature`` header is missing, malformed, wrong or too old."""

    code: ClassVar[str] = "payments_webhook_signature"
    title: ClassVar[str] = "Invalid webhook signature"


class MalformedWebhookError(WebhookRejectedError):
    """The signed body is not a JSON event with an id, a type and a data object."""

    code: ClassVar[str] = "payments_webhook_malformed"
    title: ClassVar[str] = "Malformed webhook"


class ProviderUnavailableError(UnavailableError):
    """The payment provider cannot be reached (network, timeout, outage): 503."""

    code: ClassVar[str] = "payments_provider_unavailable"
    title: ClassVar[str] = "Payment provider unavailable"


class ProviderError(PatternError):
    """The provider refused a request this pattern built (a bug or a misconfiguration)."""

    code: ClassVar[str] = "payments_provider_error"
    status: ClassVar[int] = 502
    title: ClassVar[str] = "Payment provider error"


class NoCustomerError(NotFoundError):
    """The user has no payments customer yet."""

    code: ClassVar[str] = "payments_no_customer"
    title: ClassVar[str] = "No customer"


class NoSubscriptionError(NotFoundError):
    """The user has no subscription this operation could apply to."""

    code: ClassVar[str] = "payments_no_subscription"
    title: ClassVar[str] = "No subscription"


class NoPaymentError(NotFoundError):
    """No payment with this id is known."""

    code: ClassVar[str] = "payments_no_payment"
    title: ClassVar[str] = "No such payment"


class UnknownPlanError(InvalidInputError):
    """The plan is not one of the composition's ``plans``."""

    code: ClassVar[str] = "payments_unknown_plan"
    title: ClassVar[str] = "Unknown plan"


class PaymentStateError(ConflictError):
    """The operation does not fit the current state (refund beyond the paid amount,
    resume of a subscription that is not scheduled to end, a closed checkout…)."""

    code: ClassVar[str] = "payments_state_conflict"
    title: ClassVar[str] = "Payment state conflict"


class UnknownProductError(InvalidInputError):
    """A checkout item names no product of the composition's ``products``."""

    code: ClassVar[str] = "payments_unknown_product"
    title: ClassVar[str] = "Unknown product"


class ClientPriceRefusedError(InvalidInputError):
    """A client set a line item's amount while prices come from the server."""

    code: ClassVar[str] = "payments_client_price_refused"
    title: ClassVar[str] = "Prices are set by the server"


class ReturnUrlRefusedError(InvalidInputError):
    """A checkout's ``success_url`` or ``cancel_url`` leads off the allowed origins."""

    code: ClassVar[str] = "payments_return_url_refused"
    title: ClassVar[str] = "Return URL not allowed"
