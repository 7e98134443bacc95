"""Settings errors, an unreachable Stripe, and the signature scheme against the SDK's."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import stripe
from pydantic import ValidationError

from rainmaker.kernel.catalog import Catalog
from rainmaker.kernel.composition import parse_composition
from rainmaker.kernel.loading import assemble
from rainmaker.patterns.payments import signatures
from rainmaker.patterns.payments.errors import WebhookSignatureError
from rainmaker.patterns.payments.settings import StripeSettings
from rainmaker.testing.harness import composition_text
from rainmaker.testing.smtp_server import free_port
from tests.patterns.auth_jwt.conftest import PASSWORD, bearer
from tests.patterns.payments.conftest import MakeApp, payments_settings, random_email


async def test_production_profile_names_the_missing_keys(tmp_path: Path) -> None:
    text = composition_text(
        "shop",
        {
            "db": {"use": "database-sqlite", "path": "x.db"},
            "payments": {"use": "payment-stripe"},
        },
    )
    text += '\n[profiles.production.patterns.db]\npath = "prod.db"\n'
    composition = parse_composition(text, root=tmp_path, environ={}, profile="production")
    with pytest.raises(Exception) as raised:
        app = assemble(composition, Catalog.installed())
        await app.start()
    message = str(raised.value)
    assert "api_key" in message and "webhook_secret" in message, message


def test_settings_refuse_bad_money() -> None:
    with pytest.raises(ValidationError, match="amount"):
        StripeSettings.model_validate({"plans": {"pro": {"amount": 0}}})
    with pytest.raises(ValidationError, match="currency"):
        StripeSettings.model_validate({"plans": {"pro": {"amount": 100, "currency": "eur"}}})
    with pytest.raises(ValidationError, match="ISO 4217"):
        StripeSettings.model_validate({"currency": "EURO"})


async def test_unreachable_stripe_is_503_and_degraded_health(make_app: MakeApp) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = payments_settings("local", None)
    settings.update(
        use="payment-stripe",
        api_key="sk_test_unreachable",
        api_base=dead,
        max_network_retries=0,
        timeout=2,
    )
    settings.pop("webhook_secret")
    app = await make_app(payments=settings)
    email = random_email()
    # Signup creates the customer at Stripe: the whole signup fails cleanly with 503.
    answer = await app.client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "payments_provider_unavailable"
    auth = app.app.instances["auth"].module.service  # type: ignore[union-attr]
    assert await auth.get_user_by_email(email) is None  # rolled back with the customer
    # A user made while signup customers are off still gets 503 at checkout, no crash.
    module = app.app.instances["payments"].module
    health = await module.health()  # type: ignore[union-attr]
    assert health.status == "degraded", health
    detail = (await app.client.get("/health")).json()
    assert json.dumps(detail).count("degraded") >= 1
    # No webhook secret configured: webhooks cannot be verified, so 503, not 200.
    hook = await app.client.post("/payments/webhook", content=b"{}")
    assert hook.status_code == 503


async def test_checkout_with_stripe_down_is_503(make_app: MakeApp) -> None:
    settings = payments_settings("local", None, create_customer_on_signup=False)
    settings.update(
        use="payment-stripe",
        api_key="sk_test_unreachable",
        api_base=f"http://127.0.0.1:{free_port()}",
        max_network_retries=0,
    )
    app = await make_app(payments=settings)
    email = random_email()
    assert (
        await app.client.post("/auth/register", json={"email": email, "password": PASSWORD})
    ).status_code == 201
    login = await app.client.post("/auth/login", json={"email": email, "password": PASSWORD})
    answer = await app.client.post(
        "/payments/checkout",
        json={
            "plan": "pro",
            "success_url": "http://testserver/",
            "cancel_url": "http://testserver/",
        },
        headers=bearer(login.json()["access_token"]),
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "payments_provider_unavailable"


def test_our_signatures_are_stripes_scheme() -> None:
    payload = json.dumps({"id": "evt_1", "object": "event"}).encode()
    header = signatures.sign(payload, "whsec_abc")
    # The SDK's own verifier accepts what we sign, so the two schemes cannot drift.
    assert stripe.WebhookSignature.verify_header(payload.decode(), header, "whsec_abc", 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload.decode(), header, "whsec_other", 300)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("v1=abc", "no timestamp"),
        ("t=notanumber,v1=abc", "not a number"),
        ("t=1", "no v1"),
    ],
)
def test_signature_refusals_say_why(header: str | None, reason: str) -> None:
    with pytest.raises(WebhookSignatureError, match=reason):
        signatures.verify(b"{}", header, "whsec_abc", tolerance=300)


def test_a_rolled_secret_accepts_either_signature() -> None:
    payload = b"{}"
    now = int(time.time())
    old = signatures.compute(payload, "whsec_old", now)
    new = signatures.compute(payload, "whsec_new", now)
    header = f"t={now},v1={old},v1={new}"
    assert signatures.verify(payload, header, "whsec_new", tolerance=300) == now
    stale: dict[str, Any] = {"now": now + 301}
    with pytest.raises(WebhookSignatureError, match="signed 301s ago"):
        signatures.verify(payload, header, "whsec_new", tolerance=300, **stale)
