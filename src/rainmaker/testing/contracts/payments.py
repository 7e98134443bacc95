"""The ``Payments`` contract: behaviour every
:class:`~rainmaker.capabilities.payments.PaymentProcessor` provider must show.
``payment-local`` and ``payment-stripe`` (against localstripe) both run it; so can yours.

Subclass :class:`PaymentsContract` and define one fixture, ``payments_backend``, returning
a started app wrapped as a :class:`PaymentsBackend`::

    class TestMyPayments(PaymentsContract):
        @pytest.fixture
        async def payments_backend(self, tmp_path) -> AsyncIterator[PaymentsBackend]:
            ...  # compose database + auth-jwt + http + your pattern, start it
            yield MyBackend(...)

The app must compose an ``Auth`` provider with self-registration on, the payments pattern
mounted at ``/payments`` with ``create_customer_on_signup = true``, the app currency
``usd`` and a plan named by :attr:`PaymentsBackend.plan` costing
:attr:`PaymentsBackend.plan_amount`. The backend completes hosted checkouts the way its
provider's checkout page would (``complete_checkout``), and says whether the provider still
has a customer. Webhooks are signed here with Stripe's scheme and the backend's secret.

Every test uses fresh users, so a shared provider (one localstripe) serves them all.
Nothing asserts a duration.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest

from rainmaker.capabilities.payments import (
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    SUBSCRIPTION_ACTIVATED,
    SUBSCRIPTION_CANCELED,
    PaymentEvent,
    PaymentProcessor,
)
from rainmaker.patterns.payments.signatures import sign

__all__ = ["PaymentsBackend", "PaymentsContract", "TestUser", "signed_event"]

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class TestUser:
    """A registered, logged-in user: id, email and the ``Authorization`` header."""

    __test__ = False  # not a pytest test class

    id: str
    email: str
    headers: Mapping[str, str]


class PaymentsBackend(Protocol):
    """One started app with a payments pattern, as the contract drives it."""

    client: httpx.AsyncClient
    payments: PaymentProcessor
    webhook_secret: str
    plan: str
    plan_amount: int

    async def complete_checkout(self, checkout_id: str, *, fail: bool = False) -> None:
        """Pay (or, with ``fail``, be declined on) the hosted checkout ``checkout_id``."""
        ...

    async def provider_has_customer(self, provider_id: str) -> bool:
        """Whether the provider still knows the customer ``provider_id``."""
        ...

    async def processed_events(self) -> int:
        """How many webhook events the ledger recorded as processed."""
        ...


def signed_event(
    kind: str, obj: Mapping[str, Any], secret: str, *, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A Stripe-shaped event around ``obj``: its body and signed headers."""
    body = json.dumps(
        {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": dict(obj)},
        }
    ).encode()
    return body, {
        "stripe-signature": sign(body, secret, timestamp),
        "content-type": "application/json",
    }


class Recorder:
    """Collects domain events delivered to subscribers."""

    def __init__(self, payments: PaymentProcessor, *names: str) -> None:
        self.events: list[PaymentEvent] = []
        for name in names:
            payments.subscribe(name, self._record)

    async def _record(self, event: PaymentEvent) -> None:
        self.events.append(event)

    def named(self, name: str, user_id: str) -> list[PaymentEvent]:
        return [e for e in self.events if e.name == name and e.user_id == user_id]


class PaymentsContract:
    """The tests; needs the ``payments_backend`` fixture (see the module docstring)."""

    async def signup(self, backend: PaymentsBackend) -> TestUser:
        """Register and log in a fresh user through the auth routes."""
        email = f"payer-{secrets.token_hex(5)}@example.com"
        client = backend.client
        answer = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        user_id = answer.json()["id"]
        answer = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        return TestUser(user_id, email, {"Authorization": f"Bearer {token}"})

    async def subscribe_user(self, backend: PaymentsBackend, user: TestUser) -> dict[str, Any]:
        answer = await backend.client.post(
            "/payments/checkout",
            json={
                "plan": backend.plan,
                "success_url": "https://app.example/ok",
                "cancel_url": "https://app.example/no",
            },
            headers=user.headers,
        )
        assert answer.status_code == 201, answer.text
        checkout: dict[str, Any] = answer.json()
        await backend.complete_checkout(checkout["id"])
        return checkout

    # -- customers -------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_signup_creates_a_customer_at_the_provider(
        self, payments_backend: PaymentsBackend
    ) -> None:
        user = await self.signup(payments_backend)
        customer = await payments_backend.payments.get_customer(user.id)
        assert customer is not None
        assert customer.email == user.email
        assert await payments_backend.provider_has_customer(customer.provider_id)

    @pytest.mark.asyncio
    async def test_create_customer_is_idempotent(self, payments_backend: PaymentsBackend) -> None:
        payments = payments_backend.payments
        first = await payments.create_customer("user-without-auth-1", "x1@example.com")
        again = await payments.create_customer("user-without-auth-1", "x1@example.com")
        assert again.provider_id == first.provider_id
        assert (await payments.get_customer("user-without-auth-1")) == first
        assert await payments.get_customer("nobody") is None

    # -- subscriptions ---------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_subscription_lifecycle(self, payments_backend: PaymentsBackend) -> None:
        backend = payments_backend
        seen = Recorder(backend.payments, SUBSCRIPTION_ACTIVATED, SUBSCRIPTION_CANCELED)
        user = await self.signup(backend)
        client = backend.client
        none = await client.get("/payments/subscription", headers=user.headers)
        assert none.status_code == 404
        checkout = await self.subscribe_user(backend, user)
        assert checkout["amount"] == backend.plan_amount and checkout["url"]

        current = await client.get("/payments/subscription", headers=user.headers)
        assert current.status_code == 200, current.text
        body = current.json()
        assert body["status"] == "active" and body["plan"] == backend.plan
        assert body["current_period_end"] is not None
        assert len(seen.named(SUBSCRIPTION_ACTIVATED, user.id)) == 1

        invoices = (await client.get("/payments/invoices", headers=user.headers)).json()
        assert [(i["status"], i["amount_paid"]) for i in invoices["invoices"]] == [
            ("paid", backend.plan_amount)
        ]

        scheduled = await client.post("/payments/subscription/cancel", headers=user.headers)
        assert scheduled.status_code == 200, scheduled.text
        assert scheduled.json()["cancel_at_period_end"] is True
        assert scheduled.json()["status"] == "active"  # paid time is kept
        resumed = await client.post("/payments/subscription/resume", headers=user.headers)
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["cancel_at_period_end"] is False
        again = await client.post("/payments/subscription/resume", headers=user.headers)
        assert again.status_code == 409

        ended = await client.post(
            "/payments/subscription/cancel", json={"at_period_end": False}, headers=user.headers
        )
        assert ended.status_code == 200, ended.text
        assert ended.json()["status"] == "canceled"
        assert len(seen.named(SUBSCRIPTION_CANCELED, user.id)) == 1
        assert len(seen.named(SUBSCRIPTION_ACTIVATED, user.id)) == 1
        nothing_left = await client.post("/payments/subscription/cancel", headers=user.headers)
        assert nothing_left.status_code == 404

    @pytest.mark.asyncio
    async def test_declined_first_payment_emits_payment_failed(
        self, payments_backend: PaymentsBackend
    ) -> None:
        backend = payments_backend
        seen = Recorder(backend.payments, PAYMENT_FAILED, SUBSCRIPTION_ACTIVATED)
        user = await self.signup(backend)
        checkout = await backend.payments.create_checkout(
            user.id,
            plan=backend.plan,
            success_url="https://app.example/ok",
            cancel_url="https://app.example/no",
        )
        await backend.complete_checkout(checkout.id, fail=True)
        failed = seen.named(PAYMENT_FAILED, user.id)
        assert len(failed) == 1 and failed[0].data["amount"] == backend.plan_amount
        assert seen.named(SUBSCRIPTION_ACTIVATED, user.id) == []
        subscription = await backend.payments.get_subscription(user.id)
        assert subscription is not None and not subscription.active

    # -- one-time payments and refunds -----------------------------------------------------

    @pytest.mark.asyncio
    async def test_one_time_payment_and_refunds(self, payments_backend: PaymentsBackend) -> None:
        backend = payments_backend
        seen = Recorder(backend.payments, PAYMENT_SUCCEEDED)
        user = await self.signup(backend)
        answer = await backend.client.post(
            "/payments/checkout",
            json={
                "items": [
                    {"name": "Sticker", "amount": 250, "currency": "usd", "quantity": 4},
                    {"name": "Mug", "amount": 1000, "currency": "usd"},
                ],
                "success_url": "https://app.example/ok",
                "cancel_url": "https://app.example/no",
            },
            headers=user.headers,
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["amount"] == 2000
        await backend.complete_checkout(answer.json()["id"])
        payments = await backend.payments.list_payments(user.id)
        assert [(p.amount, p.status) for p in payments] == [(2000, "succeeded")]
        assert len(seen.named(PAYMENT_SUCCEEDED, user.id)) == 1
        payment_id = payments[0].id

        partial = await backend.payments.refund(payment_id, 500)
        assert (partial.amount, partial.currency) == (500, "usd")
        from rainmaker.kernel.errors import ConflictError, InvalidInputError

        with pytest.raises(ConflictError):
            await backend.payments.refund(payment_id, 1501)
        for bad in (0, -5):
            with pytest.raises(InvalidInputError):
                await backend.payments.refund(payment_id, bad)
        rest = await backend.payments.refund(payment_id)
        assert rest.amount == 1500
        (after,) = await backend.payments.list_payments(user.id)
        assert (after.status, after.amount_refunded) == ("refunded", 2000)
        with pytest.raises(ConflictError):
            await backend.payments.refund(payment_id)

    # -- bad input -------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"items": [{"name": "x", "amount": 0, "currency": "usd"}]}, "payments_invalid_amount"),
            (
                {"items": [{"name": "x", "amount": -100, "currency": "usd"}]},
                "payments_invalid_amount",
            ),
            (
                {"items": [{"name": "x", "amount": 100, "currency": "eur"}]},
                "payments_currency_mismatch",
            ),
            (
                {"items": [{"name": "x", "amount": 100, "currency": "US"}]},
                "payments_invalid_amount",
            ),
            ({"items": []}, "payments_invalid_amount"),
            ({"plan": "no-such-plan"}, "payments_unknown_plan"),
        ],
    )
    @pytest.mark.asyncio
    async def test_bad_checkouts_are_refused(
        self, payments_backend: PaymentsBackend, body: dict[str, Any], code: str
    ) -> None:
        user = await self.signup(payments_backend)
        answer = await payments_backend.client.post(
            "/payments/checkout",
            json={**body, "success_url": "https://a.example/", "cancel_url": "https://a.example/"},
            headers=user.headers,
        )
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == code

    @pytest.mark.asyncio
    async def test_routes_need_a_user(self, payments_backend: PaymentsBackend) -> None:
        for method, path in (
            ("POST", "/payments/checkout"),
            ("GET", "/payments/subscription"),
            ("POST", "/payments/subscription/cancel"),
            ("POST", "/payments/subscription/resume"),
            ("GET", "/payments/invoices"),
        ):
            answer = await payments_backend.client.request(method, path)
            assert answer.status_code == 401, (path, answer.text)

    def test_subscribing_to_an_unknown_event_is_refused(
        self, payments_backend: PaymentsBackend
    ) -> None:
        async def handler(event: PaymentEvent) -> None: ...

        with pytest.raises(ValueError, match="unknown payments event"):
            payments_backend.payments.subscribe("subscription.activate", handler)

    # -- webhooks --------------------------------------------------------------------------

    async def failed_invoice(self, backend: PaymentsBackend, user: TestUser) -> dict[str, Any]:
        customer = await backend.payments.get_customer(user.id)
        assert customer is not None
        return {
            "id": "in_" + secrets.token_hex(8),
            "object": "invoice",
            "customer": customer.provider_id,
            "subscription": None,
            "amount_due": 700,
            "amount_paid": 0,
            "currency": "usd",
            "status": "open",
            "payment_intent": "pi_" + secrets.token_hex(8),
            "created": int(time.time()),
        }

    @pytest.mark.asyncio
    async def test_webhook_replays_are_processed_once(
        self, payments_backend: PaymentsBackend
    ) -> None:
        backend = payments_backend
        seen = Recorder(backend.payments, PAYMENT_FAILED)
        user = await self.signup(backend)
        body, headers = signed_event(
            "invoice.payment_failed",
            await self.failed_invoice(backend, user),
            backend.webhook_secret,
        )
        before = await backend.processed_events()
        results = []
        for _ in range(3):
            answer = await backend.client.post("/payments/webhook", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            results.append(answer.json()["result"])
        assert results == ["processed", "duplicate", "duplicate"]
        assert await backend.processed_events() == before + 1
        assert len(seen.named(PAYMENT_FAILED, user.id)) == 1
        invoices = await backend.payments.list_invoices(user.id)
        assert [(i.status, i.amount_due) for i in invoices] == [("open", 700)]

    @pytest.mark.asyncio
    async def test_unverifiable_webhooks_are_refused_and_not_recorded(
        self, payments_backend: PaymentsBackend
    ) -> None:
        backend = payments_backend
        seen = Recorder(backend.payments, PAYMENT_FAILED)
        user = await self.signup(backend)
        invoice = await self.failed_invoice(backend, user)
        body, good = signed_event("invoice.payment_failed", invoice, backend.webhook_secret)
        _, wrong_secret = signed_event("invoice.payment_failed", invoice, "whsec_not_it")
        stale_at = int(time.time()) - 3600
        stale = {"stripe-signature": sign(body, backend.webhook_secret, stale_at)}
        tampered = body.replace(b'"amount_due": 700', b'"amount_due": 7')
        malformed = b'{"id": "evt_1", "type": "invoice.paid", "data": '
        before = await backend.processed_events()
        cases = [
            (body, {}),
            (body, {"stripe-signature": "garbage"}),
            (body, {"stripe-signature": wrong_secret["stripe-signature"]}),
            (body, stale),
            (tampered, good),
            (malformed, {"stripe-signature": sign(malformed, backend.webhook_secret)}),
            (b"[1, 2]", {"stripe-signature": sign(b"[1, 2]", backend.webhook_secret)}),
        ]
        for payload, headers in cases:
            answer = await backend.client.post(
                "/payments/webhook", content=payload, headers=headers
            )
            assert answer.status_code == 400, (headers, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
        assert await backend.processed_events() == before
        assert seen.named(PAYMENT_FAILED, user.id) == []
        assert await backend.payments.list_invoices(user.id) == []

    @pytest.mark.asyncio
    async def test_unknown_event_types_are_acknowledged_and_ignored(
        self, payments_backend: PaymentsBackend
    ) -> None:
        backend = payments_backend
        before = await backend.processed_events()
        body, headers = signed_event(
            "customer.tax_id.created", {"id": "txi_1"}, backend.webhook_secret
        )
        answer = await backend.client.post("/payments/webhook", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == "ignored"
        assert await backend.processed_events() == before
