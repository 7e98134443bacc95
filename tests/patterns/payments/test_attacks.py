"""Attacks on the payment routes (issue 19), on ``payment-local`` and ``payment-stripe``.

Each test is what an outsider or a logged-in user tried against the demo: completing two
open checkouts for one plan, choosing their own price, pointing the checkout's return
URLs at another site, and replaying a webhook signed in the future. The concurrency test
runs on PostgreSQL too, where two completions really run side by side.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import pytest
from sqlalchemy import select

from rainmaker.patterns.payments import signatures, tables
from rainmaker.patterns.payments.errors import WebhookSignatureError
from rainmaker.testing.contracts.payments import PASSWORD, signed_event
from rainmaker.testing.stripe_server import StripeServer
from tests.patterns.auth_jwt.conftest import pg_database  # noqa: F401 (fixture)
from tests.patterns.database.conftest import pg_url
from tests.patterns.payments.conftest import (
    PLAN,
    PLAN_AMOUNT,
    WEBHOOK_SECRET,
    LocalBackend,
    MakeApp,
    Started,
    StripeBackend,
    payments_settings,
    random_email,
    stripe_client,
)

OK = "http://testserver/ok"
NO = "http://testserver/no"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "pay.db"}
    name = request.getfixturevalue("pg_database")
    return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}


async def start(
    request: pytest.FixtureRequest,
    make_app: MakeApp,
    kind: str,
    *,
    database: dict[str, Any] | None = None,
    **overrides: Any,
) -> tuple[Started, LocalBackend | StripeBackend]:
    """A started app with ``kind``'s payments pattern, and its contract-style backend."""
    if kind == "local":
        started = await make_app(
            payments=payments_settings("local", None, **overrides), database=database
        )
        return started, LocalBackend(started.client, started.service, started.service)
    server: StripeServer = request.getfixturevalue("localstripe")
    started = await make_app(
        payments=payments_settings("stripe", server, **overrides), database=database
    )
    backend = StripeBackend(
        started.client, started.service, started.service, server, stripe_client(server)
    )
    return started, backend


async def login(started: Started) -> tuple[str, dict[str, str]]:
    """A fresh registered user: id and Authorization header."""
    email = random_email()
    client = started.client
    answer = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    user_id = answer.json()["id"]
    answer = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return user_id, {"Authorization": f"Bearer {answer.json()['access_token']}"}


def problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    """Assert ``answer`` is a problem+json of ``status`` and ``code``; its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


# -- 4. one active subscription, held at completion ---------------------------------------


@pytest.mark.parametrize("kind", ["local", "stripe"])
async def test_two_open_checkouts_complete_into_one_subscription(
    request: pytest.FixtureRequest, make_app: MakeApp, database: dict[str, Any], kind: str
) -> None:
    started, backend = await start(request, make_app, kind, database=database)
    user_id, headers = await login(started)
    body = {"plan": PLAN, "success_url": OK, "cancel_url": NO}
    first = await started.client.post("/payments/checkout", json=body, headers=headers)
    second = await started.client.post("/payments/checkout", json=body, headers=headers)
    assert first.status_code == second.status_code == 201, (first.text, second.text)

    async def complete(checkout_id: str) -> str:
        try:
            await backend.complete_checkout(checkout_id)
        except AssertionError as refused:  # the local page answers 409 to the loser
            return str(refused)
        return "completed"

    outcomes = await asyncio.gather(complete(first.json()["id"]), complete(second.json()["id"]))
    async with started.service.db.session() as session:
        rows = (
            await session.execute(
                select(tables.subscriptions).where(tables.subscriptions.c.user_id == user_id)
            )
        ).all()
    live = [row for row in rows if row.status in ("active", "trialing", "past_due")]
    assert len(live) == 1, (outcomes, [(r.id, r.status) for r in rows])
    payments = await started.service.list_payments(user_id)
    kept = [p for p in payments if p.status == "succeeded"]
    assert [p.amount for p in kept] == [PLAN_AMOUNT], payments
    current = await started.client.get("/payments/subscription", headers=headers)
    assert current.json()["id"] == live[0].id
    if kind == "local":
        # The loser was refused before anything was charged.
        assert sorted(o == "completed" for o in outcomes) == [False, True], outcomes
        assert len(rows) == 1 and len(payments) == 1
    else:
        # Stripe took both payments: the duplicate is cancelled there and refunded.
        (duplicate,) = [row for row in rows if row.id != live[0].id]
        assert duplicate.status == "canceled"
        assert isinstance(backend, StripeBackend)
        at_stripe = await backend.stripe.v1.subscriptions.retrieve_async(duplicate.id)
        assert at_stripe.status == "canceled"
        assert sorted(p.status for p in payments) == ["refunded", "succeeded"], payments
    # Cancelling acts on the one subscription the user has.
    cancel = await started.client.post(
        "/payments/subscription/cancel", json={"at_period_end": False}, headers=headers
    )
    assert cancel.status_code == 200, cancel.text
    after = await started.client.get("/payments/subscription", headers=headers)
    assert after.json()["status"] == "canceled"


async def test_a_replayed_activation_of_another_subscription_is_not_a_second_one(
    request: pytest.FixtureRequest, make_app: MakeApp
) -> None:
    """A signed ``customer.subscription.created`` for a second subscription (a provider
    that billed twice) is recorded as ended, not as a second active subscription."""
    started, backend = await start(request, make_app, "local")
    user_id, headers = await login(started)
    checkout = await started.client.post(
        "/payments/checkout",
        json={"plan": PLAN, "success_url": OK, "cancel_url": NO},
        headers=headers,
    )
    await backend.complete_checkout(checkout.json()["id"])
    customer = await started.service.get_customer(user_id)
    assert customer is not None
    second = {
        "id": "lsub_" + secrets.token_hex(8),
        "object": "subscription",
        "customer": customer.provider_id,
        "status": "active",
        "plan": {"id": PLAN},
        "current_period_end": int(time.time()) + 86400,
        "cancel_at_period_end": False,
    }
    body, signed = signed_event("customer.subscription.created", second, WEBHOOK_SECRET)
    answer = await started.client.post("/payments/webhook", content=body, headers=signed)
    assert answer.status_code == 200, answer.text
    saved = await started.service.ledger.subscription(second["id"])
    assert saved is not None and saved.status == "canceled"
    # A later update cannot bring the ended duplicate back to life.
    body, signed = signed_event("customer.subscription.updated", second, WEBHOOK_SECRET)
    await started.client.post("/payments/webhook", content=body, headers=signed)
    saved = await started.service.ledger.subscription(second["id"])
    assert saved is not None and saved.status == "canceled"


# -- 5. prices come from the server --------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "stripe"])
async def test_client_set_amounts_are_refused_by_default(
    request: pytest.FixtureRequest, make_app: MakeApp, kind: str
) -> None:
    started, _ = await start(request, make_app, kind)
    _, headers = await login(started)
    answer = await started.client.post(
        "/payments/checkout",
        json={
            "items": [{"name": "Pro plan (1 year)", "amount": 1, "currency": "usd"}],
            "success_url": OK,
            "cancel_url": NO,
        },
        headers=headers,
    )
    body = problem(answer, 422, "payments_client_price_refused")
    assert "products" in body["detail"] or "products" in body.get("hint", ""), body


@pytest.mark.parametrize("kind", ["local", "stripe"])
async def test_products_are_priced_by_the_server(
    request: pytest.FixtureRequest, make_app: MakeApp, kind: str
) -> None:
    products = {
        "sticker": {"name": "Sticker", "amount": 250},
        "mug": {"name": "Mug", "amount": 1000},
    }
    started, _ = await start(request, make_app, kind, products=products)
    _, headers = await login(started)
    answer = await started.client.post(
        "/payments/checkout",
        json={
            "items": [{"product": "sticker", "quantity": 4}, {"product": "mug"}],
            "success_url": OK,
            "cancel_url": NO,
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["amount"] == 2000
    record = await started.service.ledger.checkout(answer.json()["id"])
    assert record is not None
    assert [(i["name"], i["amount"], i["quantity"]) for i in record.items] == [
        ("Sticker", 250, 4),
        ("Mug", 1000, 1),
    ]
    for item, code in (
        ({"product": "yacht"}, "payments_unknown_product"),
        ({"product": "mug", "amount": 1}, "payments_client_price_refused"),
    ):
        refused = await started.client.post(
            "/payments/checkout",
            json={"items": [item], "success_url": OK, "cancel_url": NO},
            headers=headers,
        )
        problem(refused, 422, code)


async def test_client_prices_can_be_turned_on_for_amounts_the_user_chooses(
    request: pytest.FixtureRequest, make_app: MakeApp
) -> None:
    started, _ = await start(request, make_app, "local", client_prices=True)
    _, headers = await login(started)
    answer = await started.client.post(
        "/payments/checkout",
        json={
            "items": [{"name": "Donation", "amount": 700, "currency": "usd"}],
            "success_url": OK,
            "cancel_url": NO,
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["amount"] == 700


# -- 13. return URLs stay on allowed origins -----------------------------------------------


@pytest.mark.parametrize("kind", ["local", "stripe"])
@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/ok",
        "http://testserver.evil.example/ok",
        "http://testserver@evil.example/ok",
        "http://testserver:8443/ok",
        "https://testserver/ok",  # another scheme is another origin
        "http://testserver\\@evil.example/",
        "javascript:alert(1)",
        "/relative",
    ],
)
async def test_return_urls_to_other_origins_are_refused(
    request: pytest.FixtureRequest, make_app: MakeApp, kind: str, url: str
) -> None:
    started, _ = await start(request, make_app, kind)
    _, headers = await login(started)
    for body in (
        {"plan": PLAN, "success_url": url, "cancel_url": NO},
        {"plan": PLAN, "success_url": OK, "cancel_url": url},
    ):
        answer = await started.client.post("/payments/checkout", json=body, headers=headers)
        problem(answer, 422, "payments_return_url_refused")


async def test_return_origins_default_to_the_public_url_then_the_setting(
    request: pytest.FixtureRequest, make_app: MakeApp
) -> None:
    started, _ = await start(request, make_app, "local", public_url="https://shop.example/")
    _, headers = await login(started)

    async def checkout(url: str) -> int:
        answer = await started.client.post(
            "/payments/checkout",
            json={"plan": PLAN, "success_url": url, "cancel_url": url},
            headers=headers,
        )
        return answer.status_code

    assert await checkout("https://shop.example/billing?done=1") == 201
    # The public URL replaces the request's origin: the Host header is not trusted.
    assert await checkout(OK) == 422
    other, _ = await start(
        request,
        make_app,
        "local",
        return_origins=["https://app.example", "https://admin.example:8443"],
    )
    _, headers = await login(other)
    for url, status in (
        ("https://app.example/ok", 201),
        ("https://admin.example:8443/ok", 201),
        ("https://admin.example/ok", 422),
        (OK, 422),
    ):
        answer = await other.client.post(
            "/payments/checkout",
            json={"plan": PLAN, "success_url": url, "cancel_url": url},
            headers=headers,
        )
        assert answer.status_code == status, (url, answer.text)


def test_return_origins_must_be_origins() -> None:
    from pydantic import ValidationError

    from rainmaker.patterns.payments.settings import LocalPaymentsSettings

    for bad in ("app.example", "https://app.example/path", "ftp://app.example"):
        with pytest.raises(ValidationError, match="origin"):
            LocalPaymentsSettings.model_validate({"return_origins": [bad]})


# -- 15. webhooks signed in the future -----------------------------------------------------


def test_signatures_from_the_future_are_refused() -> None:
    body = b'{"id": "evt_1"}'
    now = time.time()
    ahead = int(now) + 3600
    with pytest.raises(WebhookSignatureError, match="future"):
        signatures.verify(body, signatures.sign(body, "s", ahead), "s", tolerance=300, now=now)
    # Within the tolerance either way is fine (clocks drift a little both ways).
    for skew in (-200, 200):
        at = int(now) + skew
        assert (
            signatures.verify(body, signatures.sign(body, "s", at), "s", tolerance=300, now=now)
            == at
        )


@pytest.mark.parametrize("kind", ["local", "stripe"])
async def test_webhooks_signed_in_the_future_are_refused(
    request: pytest.FixtureRequest, make_app: MakeApp, kind: str
) -> None:
    started, _ = await start(request, make_app, kind)
    before = await started.service.ledger.count_events()
    body, _ = signed_event("customer.tax_id.created", {"id": "txi_1"}, WEBHOOK_SECRET)
    future = {"stripe-signature": signatures.sign(body, WEBHOOK_SECRET, int(time.time()) + 86400)}
    answer = await started.client.post("/payments/webhook", content=body, headers=future)
    problem(answer, 400, "payments_webhook_signature")
    assert await started.service.ledger.count_events() == before
