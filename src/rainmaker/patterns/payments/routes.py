"""HTTP routes of the payment patterns (mounted under ``/payments``).

Every route but the webhook (signature only) and the simulated checkout page of
``payment-local`` (its unguessable checkout id is the key, as on a real hosted page) needs
an access token; the user comes from the ``Auth`` pattern's ``current_user`` guard.

No ``from __future__ import annotations`` here: FastAPI reads these annotations at runtime.
"""

import html
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from rainmaker.capabilities.auth import User
from rainmaker.http import AuthGuards, responses
from rainmaker.patterns.payments import owner_billing as billing
from rainmaker.patterns.payments.answers import (
    CheckoutAnswer,
    InvoiceList,
    SubscriptionAnswer,
    WebhookAnswer,
)
from rainmaker.patterns.payments.errors import (
    NoSubscriptionError,
    PaymentStateError,
    ProviderError,
    WebhookRejectedError,
)
from rainmaker.patterns.payments.service import PaymentsService

# The webhook reads its raw body itself (the signature covers the exact bytes).
WEBHOOK_REQUEST = {
    "parameters": [
        {
            "name": "Stripe-Signature",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "t=<timestamp>,v1=<HMAC-SHA256 of the body>",
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


def payments_router(
    resolve: Callable[[], PaymentsService],
    guards: AuthGuards,
    *,
    webhook_secret: Callable[[], str],
    tolerance: Callable[[], float],
    local_checkout: bool,
) -> APIRouter:
    """The routes; ``resolve`` returns the running service (503 while stopped)."""
    router = APIRouter(tags=["payments"])

    @router.post(
        "/checkout",
        status_code=201,
        response_model=CheckoutAnswer,
        responses=responses(PaymentStateError, ProviderError, 503),
    )
    async def checkout(
        body: billing.CheckoutBody,
        request: Request,
        user: Annotated[User, Depends(guards.current_user)],
    ) -> Any:
        """Start a checkout for one of the plans (or products) the settings price: the
        answer's absolute ``url`` is the provider's hosted page (payment-local: a simulated
        one). Prices come from the settings, not the client (unless ``client_prices`` is on);
        409 while a subscription is active."""
        return await billing.start_checkout(resolve(), user.id, user.email, body, request)

    @router.get(
        "/subscription",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, ProviderError, 503),
    )
    async def subscription(user: Annotated[User, Depends(guards.current_user)]) -> Any:
        """The caller's subscription: plan, status, seats and the end of the period."""
        return await billing.read_subscription(
            resolve(), user.id, missing="you have no subscription"
        )

    @router.post(
        "/subscription/cancel",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, PaymentStateError, ProviderError, 503),
    )
    async def cancel(
        user: Annotated[User, Depends(guards.current_user)], body: billing.CancelBody | None = None
    ) -> Any:
        """Cancel the subscription, at the end of the period by default (``at_period_end``)
        or at once."""
        return await billing.cancel_subscription(resolve(), user.id, body)

    @router.post(
        "/subscription/resume",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, PaymentStateError, ProviderError, 503),
    )
    async def resume(user: Annotated[User, Depends(guards.current_user)]) -> Any:
        """Undo a cancellation at the end of the period, while the period lasts."""
        return await billing.resume_subscription(resolve(), user.id)

    @router.get("/invoices", response_model=InvoiceList, responses=responses(ProviderError, 503))
    async def invoices(user: Annotated[User, Depends(guards.current_user)]) -> Any:
        """The caller's invoices, newest first."""
        return await billing.list_invoices(resolve(), user.id)

    @router.post(
        "/webhook",
        response_model=WebhookAnswer,
        responses=responses(WebhookRejectedError, 503),
        openapi_extra=WEBHOOK_REQUEST,
    )
    async def webhook(request: Request) -> Any:
        """The provider's events, signed (``Stripe-Signature``, checked against
        ``webhook_secret`` within the timestamp tolerance, both ways). Each event is
        processed once, however often it is delivered."""
        payload = await request.body()
        result = await resolve().webhooks.receive(
            payload,
            request.headers.get("stripe-signature"),
            secret=webhook_secret(),
            tolerance=tolerance(),
        )
        return {"received": True, "result": result}

    if local_checkout:
        _add_local_checkout(router, resolve)
    return router


def _add_local_checkout(router: APIRouter, resolve: Callable[[], PaymentsService]) -> None:
    """``payment-local``'s simulated hosted checkout page and its three outcomes."""

    @router.get(
        "/local/checkout/{checkout_id}",
        response_class=HTMLResponse,
        responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
    )
    async def page(checkout_id: str) -> Response:
        """payment-local's stand-in for a hosted checkout page: pay, decline or cancel."""
        from rainmaker.patterns.payments.local_checkout import checkout_of

        record = await checkout_of(resolve(), checkout_id)
        what = f"plan {record.plan}" if record.plan else f"{len(record.items)} item(s)"
        amount = f"{record.amount / 100:.2f} {record.currency.upper()}"
        base = html.escape(checkout_id)
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Checkout (local)</title>"
            "</head><body><h1>Simulated checkout</h1>"
            f"<p>{html.escape(what)}: <strong>{html.escape(amount)}</strong> "
            f"({html.escape(record.status)})</p>"
            "<p>No card is charged: this page stands in for Stripe Checkout in development.</p>"
            f"<form method='post' action='{base}/complete'><button>Pay</button></form>"
            f"<form method='post' action='{base}/fail'><button>Simulate a declined card"
            "</button></form>"
            f"<form method='post' action='{base}/cancel'><button>Cancel</button></form>"
            "</body></html>"
        )
        return HTMLResponse(body)

    @router.post(
        "/local/checkout/{checkout_id}/{outcome}",
        status_code=303,
        response_class=RedirectResponse,
        responses={
            303: {
                "description": "Back to the app's success or cancel URL.",
                "headers": {"Location": {"schema": {"type": "string"}}},
            },
            **responses(PaymentStateError),
        },
    )
    async def finish(
        checkout_id: str, outcome: Literal["complete", "fail", "cancel"]
    ) -> RedirectResponse:
        """Finish a simulated checkout as the provider would (paid, declined, cancelled),
        then go back to the app's success or cancel URL."""
        from rainmaker.patterns.payments.local_checkout import finish_checkout

        target = await finish_checkout(resolve(), checkout_id, outcome)
        return RedirectResponse(target, status_code=303)
