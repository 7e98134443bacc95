"""Fixtures for the payment tests: real apps (SQLite or PostgreSQL, auth-jwt, HTTP) with
``payment-local`` or ``payment-stripe`` against localstripe started on loopback.

localstripe runs once per session in a thread (see
:mod:`rainmaker.testing.stripe_server`); every test uses fresh users and customers, so the
shared store never makes tests depend on each other.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from rainmaker.capabilities.payments import PaymentProcessor
from rainmaker.kernel.application import Application
from rainmaker.patterns.payments.module import PaymentsModule
from rainmaker.patterns.payments.service import PaymentsService
from rainmaker.testing.contracts.payments import signed_event
from rainmaker.testing.harness import build_app
from rainmaker.testing.stripe_server import API_KEY, StripeServer, stripe_server
from tests.patterns.auth_jwt.conftest import auth_settings, pg_database  # noqa: F401
from tests.patterns.database.conftest import pg_url

PLAN = "pro"
PLAN_AMOUNT = 1500
STRIPE_PLAN_ID = "plan_pro_monthly"
WEBHOOK_SECRET = "whsec_test_" + "k" * 24
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then every charge is declined


@pytest.fixture(scope="session")
def localstripe() -> Iterator[StripeServer]:
    """localstripe on 127.0.0.1 with the test plan created."""
    with stripe_server() as server:
        client = stripe.StripeClient(API_KEY, base_addresses={"api": server.url})
        # localstripe keeps its objects in module globals, shared by every server in this
        # process: a module that imports this fixture gets a server of its own, where the
        # plan may already exist.
        try:
            client.v1.plans.retrieve(STRIPE_PLAN_ID)
        except stripe.InvalidRequestError:
            client.v1.plans.create(
                {
                    "id": STRIPE_PLAN_ID,
                    "amount": PLAN_AMOUNT,
                    "currency": "usd",
                    "interval": "month",
                    "product": {"name": "Pro"},
                }
            )
        yield server


def stripe_client(server: StripeServer) -> stripe.StripeClient:
    """A test-side SDK client on localstripe (async calls through httpx)."""
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": server.url}, http_client=stripe.HTTPXClient()
    )


def payments_settings(kind: str, server: StripeServer | None, **overrides: Any) -> dict[str, Any]:
    """The ``payments`` instance of a test app."""
    plans = {PLAN: {"amount": PLAN_AMOUNT, "interval": "month"}}
    if kind == "local":
        settings: dict[str, Any] = {
            "use": "payment-local",
            "plans": plans,
            "webhook_secret": WEBHOOK_SECRET,
        }
    else:
        assert server is not None
        plans[PLAN]["provider_id"] = STRIPE_PLAN_ID
        settings = {
            "use": "payment-stripe",
            "plans": plans,
            "api_key": API_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": server.url,
            "max_network_retries": 1,
        }
    settings.update(overrides)
    return settings


@dataclass
class Started:
    """A started app, its client and its payments service."""

    app: Application
    client: httpx.AsyncClient

    @property
    def service(self) -> PaymentsService:
        module = self.app.instances["payments"].module
        assert isinstance(module, PaymentsModule)
        return module.service


MakeApp = Callable[..., Awaitable[Started]]


@pytest.fixture
async def make_app(tmp_path: Path) -> AsyncIterator[MakeApp]:
    """``await make_app(payments={...}, database={...})``: a started app."""
    started: list[Started] = []

    async def make(
        *,
        payments: Mapping[str, Any],
        database: Mapping[str, Any] | None = None,
        auth: bool = True,
        environ: Mapping[str, str] | None = None,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Started:
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir()
        patterns: dict[str, Mapping[str, Any]] = {
            "db": database or {"use": "database-sqlite", "path": "pay.db"},
            "http": {"use": "framework-fastapi", "access_log": False},
        }
        if auth:
            patterns["auth"] = auth_settings()
        patterns["payments"] = payments
        patterns.update(extra or {})
        app = build_app(patterns, root=folder, environ=environ)
        await app.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        entry = Started(app, client)
        started.append(entry)
        return entry

    yield make
    for entry in reversed(started):
        await entry.client.aclose()
        await entry.app.stop()


# -- the two contract backends -------------------------------------------------------------


@dataclass
class LocalBackend:
    """``payment-local``: the simulated checkout page completes checkouts."""

    client: httpx.AsyncClient
    payments: PaymentProcessor
    service: PaymentsService
    webhook_secret: str = WEBHOOK_SECRET
    plan: str = PLAN
    plan_amount: int = PLAN_AMOUNT

    async def complete_checkout(self, checkout_id: str, *, fail: bool = False) -> None:
        page = await self.client.get(f"/payments/local/checkout/{checkout_id}")
        assert page.status_code == 200, page.text
        outcome = "fail" if fail else "complete"
        answer = await self.client.post(f"/payments/local/checkout/{checkout_id}/{outcome}")
        assert answer.status_code == 303, answer.text

    async def provider_has_customer(self, provider_id: str) -> bool:
        return await self.service.ledger.customer_by_provider_id(provider_id) is not None

    async def processed_events(self) -> int:
        return await self.service.ledger.count_events()


@dataclass
class StripeBackend:
    """``payment-stripe`` on localstripe: checkouts are paid through the API, and the
    events Stripe would send are signed and posted to the app's webhook."""

    client: httpx.AsyncClient
    payments: PaymentProcessor
    service: PaymentsService
    server: StripeServer
    stripe: stripe.StripeClient
    webhook_secret: str = WEBHOOK_SECRET
    plan: str = PLAN
    plan_amount: int = PLAN_AMOUNT

    async def post_event(self, kind: str, obj: Mapping[str, Any]) -> None:
        body, headers = signed_event(kind, obj, self.webhook_secret)
        answer = await self.client.post("/payments/webhook", content=body, headers=headers)
        assert answer.status_code == 200, answer.text

    async def complete_checkout(self, checkout_id: str, *, fail: bool = False) -> None:
        session = self.server.session(checkout_id)
        customer = session["customer"]
        card = await self.stripe.v1.payment_methods.create_async(
            {
                "type": "card",
                "card": {
                    "number": DECLINED_CARD if fail else GOOD_CARD,
                    "exp_month": 12,
                    "exp_year": time.gmtime().tm_year + 2,
                    "cvc": "123",
                },
            }
        )
        await self.stripe.v1.payment_methods.attach_async(card.id, {"customer": customer})
        await self.stripe.v1.customers.update_async(
            customer, {"invoice_settings": {"default_payment_method": card.id}}
        )
        completed = {**session, "status": "complete", "payment_status": "paid"}
        if session["mode"] == "payment":
            intent = await self.stripe.v1.payment_intents.create_async(
                {
                    "amount": session["amount_total"],
                    "currency": session["currency"],
                    "customer": customer,
                    "payment_method": card.id,
                    "confirm": True,
                }
            )
            await self.post_event(
                "checkout.session.completed", {**completed, "payment_intent": intent.id}
            )
            return
        plan = session["line_items"][0]["price"]
        seats = int(session["line_items"][0].get("quantity", 1))
        subscription = (
            await self.stripe.v1.subscriptions.create_async(
                {"customer": customer, "items": [{"plan": plan, "quantity": seats}]}
            )
        ).to_dict()
        invoice = (
            await self.stripe.v1.invoices.retrieve_async(subscription["latest_invoice"])
        ).to_dict()
        if fail:
            completed["payment_status"] = "unpaid"
        await self.post_event(
            "checkout.session.completed", {**completed, "subscription": subscription["id"]}
        )
        await self.post_event("customer.subscription.created", subscription)
        await self.post_event("invoice.payment_failed" if fail else "invoice.paid", invoice)

    async def provider_has_customer(self, provider_id: str) -> bool:
        try:
            found = await self.stripe.v1.customers.retrieve_async(provider_id)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return False
            raise
        return not found.to_dict().get("deleted")

    async def processed_events(self) -> int:
        return await self.service.ledger.count_events()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``db`` instance on SQLite and on PostgreSQL (127.0.0.1:5432)."""
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "pay.db"}
    name = request.getfixturevalue("pg_database")
    return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}


@pytest.fixture(params=["local", "stripe"])
async def payments_backend(
    request: pytest.FixtureRequest, make_app: MakeApp, database: dict[str, Any]
) -> LocalBackend | StripeBackend:
    """Each contract test on ``payment-local`` and on ``payment-stripe`` (localstripe),
    each on SQLite and PostgreSQL."""
    # The contract posts client-priced items and returns to app.example / a.example.
    contract = {
        "client_prices": True,
        "return_origins": ["https://app.example", "https://a.example"],
    }
    if request.param == "local":
        started = await make_app(
            payments=payments_settings("local", None, **contract), database=database
        )
        return LocalBackend(started.client, started.service, started.service)
    server: StripeServer = request.getfixturevalue("localstripe")
    started = await make_app(
        payments=payments_settings("stripe", server, **contract), database=database
    )
    return StripeBackend(
        started.client, started.service, started.service, server, stripe_client(server)
    )


def random_email() -> str:
    return f"u-{secrets.token_hex(5)}@example.com"
