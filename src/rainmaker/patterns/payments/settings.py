"""Settings of the two payment patterns.

``payment-local`` needs nothing but plan definitions; ``payment-stripe`` also needs its API
key and webhook signing secret. Both are optional in the model so a development profile can
run without them, but a module built in the ``production`` profile refuses to start without
them and names each missing key (see :func:`missing_production_keys`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from rainmaker import Settings

_CURRENCY = re.compile(r"^[a-z]{3}$")
_PLAN_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

DEFAULT_STRIPE_API_VERSION = "2026-10-28.endive"


class PlanSettings(Settings):
    """One subscription plan the app sells, named by its key in ``plans``."""

    amount: int = Field(
        gt=0, description="Price per interval in minor units (cents for usd), e.g. 1500."
    )
    currency: str = Field(
        default="usd", description="ISO 4217 currency code in lower case, e.g. 'usd' or 'eur'."
    )
    interval: Literal["day", "week", "month", "year"] = Field(
        default="month", description="How often the plan bills."
    )
    provider_id: str | None = Field(
        default=None,
        description="The provider's id for this plan (a Stripe Plan or Price id, e.g. "
        "'plan_pro_monthly'); defaults to the plan's name. Unused by payment-local.",
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not _CURRENCY.match(value):
            raise ValueError("give a three-letter ISO 4217 code in lower case, e.g. 'usd'")
        return value


class ProductSettings(Settings):
    """One thing the app sells once, named by its key in ``products``.

    Its price lives here, on the server: a checkout from the HTTP route names the product
    and a quantity, never an amount (see ``client_prices``).
    """

    name: str = Field(
        min_length=1,
        max_length=250,
        description="What the customer sees on the checkout page and the receipt, e.g. 'Mug'.",
    )
    amount: int = Field(
        gt=0, description="Unit price in minor units of the app currency, e.g. 1000."
    )


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower case, default port left
    out; ``None`` for anything else (relative, other schemes, user info, backslashes).

    Browsers and Python's parser disagree on backslashes and user info, so URLs holding
    them are no one's origin rather than possibly someone else's.
    """
    if "\\" in url or any(ord(c) < 0x21 or c == "\x7f" for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = 443 if scheme == "https" else 80
    suffix = f":{port}" if port is not None and port != default else ""
    return f"{scheme}://{parts.hostname.lower()}{suffix}"


class PaymentsSettings(Settings):
    """What both payment patterns share."""

    currency: str = Field(
        default="usd",
        description="The currency of every amount this app charges (ISO 4217, lower case); "
        "checkout items and plans in another currency are refused.",
    )
    plans: dict[str, PlanSettings] = Field(
        default_factory=dict,
        description="Subscription plans by name, e.g. { pro = { amount = 1500 } }.",
    )
    create_customer_on_signup: bool = Field(
        default=True,
        description="Create a payments customer in the same transaction as each new auth "
        "user (needs an Auth pattern in the composition).",
    )
    webhook_tolerance: timedelta = Field(
        default=timedelta(minutes=5),
        description="How old a webhook's signed timestamp may be before it is refused "
        "(seconds or an ISO 8601 duration).",
    )
    max_items: int = Field(
        default=50, ge=1, le=100, description="Most line items one checkout may hold."
    )
    products: dict[str, ProductSettings] = Field(
        default_factory=dict,
        description="One-time products by key, priced here: POST /payments/checkout names "
        'them, e.g. { mug = { name = "Mug", amount = 1000 } } and items = '
        '[{ product = "mug", quantity = 2 }].',
    )
    client_prices: bool = Field(
        default=False,
        description="Let HTTP clients set a line item's name and amount themselves. Off: "
        "prices come from products (or from Python callers of create_checkout). Turn it "
        "on only where the user rightly chooses the amount (donations, tips).",
    )
    public_url: str = Field(
        default="",
        description="The app's public base URL, e.g. 'https://shop.example'. Checkout "
        "return URLs must stay on its origin unless return_origins says otherwise; "
        "payment-local also links its checkout page from it (empty: a path relative to "
        "the app, and return URLs must stay on the requesting origin).",
    )
    return_origins: list[str] = Field(
        default_factory=list,
        description="Origins checkout success_url and cancel_url may point to, e.g. "
        "['https://app.example']. Empty: the origin of public_url, else the origin the "
        "checkout request was made on.",
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not _CURRENCY.match(value):
            raise ValueError("give a three-letter ISO 4217 code in lower case, e.g. 'usd'")
        return value

    @field_validator("plans")
    @classmethod
    def _plan_names(cls, plans: dict[str, PlanSettings]) -> dict[str, PlanSettings]:
        bad = [name for name in plans if not _PLAN_NAME.match(name)]
        if bad:
            raise ValueError(
                f"plan names must be lower-case letters, digits, '-' or '_': {', '.join(bad)}"
            )
        return plans

    @field_validator("products")
    @classmethod
    def _product_keys(cls, products: dict[str, ProductSettings]) -> dict[str, ProductSettings]:
        bad = [key for key in products if not _PLAN_NAME.match(key)]
        if bad:
            raise ValueError(
                f"product keys must be lower-case letters, digits, '-' or '_': {', '.join(bad)}"
            )
        return products

    @field_validator("return_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin_of(origin) != origin.rstrip("/").lower():
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port] with no path, "
                    "e.g. 'https://app.example'"
                )
        return [origin.rstrip("/").lower() for origin in origins]

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if value and origin_of(value) is None:
            raise ValueError("give an absolute http(s) URL, e.g. 'https://shop.example'")
        return value

    def allowed_return_origins(self, request_origin: str | None) -> frozenset[str] | None:
        """Where checkout return URLs may point: ``return_origins``, else the origin of
        ``public_url``, else ``request_origin``; ``None`` (anywhere) only for a Python
        caller of an app that configured none of them."""
        if self.return_origins:
            return frozenset(self.return_origins)
        public = origin_of(self.public_url) if self.public_url else None
        if public is not None:
            return frozenset({public})
        if request_origin is not None:
            found = origin_of(request_origin)
            return frozenset({found} if found else ())
        return None

    @model_validator(mode="after")
    def _plan_currencies(self) -> PaymentsSettings:
        wrong = [name for name, plan in self.plans.items() if plan.currency != self.currency]
        if wrong:
            raise ValueError(
                f"plans {', '.join(wrong)} are not in the app currency {self.currency!r}"
            )
        return self


class LocalPaymentsSettings(PaymentsSettings):
    """``payment-local``: a ledger in the app's database and a simulated checkout page."""

    webhook_secret: SecretStr = Field(
        default=SecretStr("whsec_local_development_only"),
        description="Secret that signs webhooks posted to /payments/webhook (Stripe's "
        "scheme), so tools can replay events against the local ledger too.",
        json_schema_extra={"min_entropy_bits": 128},  # outside development (secret_strength)
    )


class StripeSettings(PaymentsSettings):
    """``payment-stripe``: the official SDK against Stripe (or a stand-in at ``api_base``)."""

    api_key: SecretStr | None = Field(
        default=None,
        description="Stripe secret key (sk_live_... or sk_test_...); required in production.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="The endpoint's signing secret (whsec_...); required in production.",
        json_schema_extra={"min_entropy_bits": 128},  # outside development (secret_strength)
    )
    api_version: str = Field(
        default=DEFAULT_STRIPE_API_VERSION,
        description="Stripe API version every request pins, so Stripe-side upgrades never "
        "change payloads under the app.",
    )
    api_base: str | None = Field(
        default=None,
        description="Base URL of the Stripe API; set it only for a stand-in server such as "
        "localstripe, e.g. 'http://127.0.0.1:8420'.",
    )
    timeout: float = Field(
        default=10.0, gt=0, le=120, description="Seconds one Stripe HTTP request may take."
    )
    max_network_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of a request that failed on the network (same idempotency key).",
    )


def missing_production_keys(settings: StripeSettings) -> list[str]:
    """The keys ``payment-stripe`` cannot run without in production, that are unset."""
    missing = []
    if settings.api_key is None or not settings.api_key.get_secret_value():
        missing.append("api_key")
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        missing.append("webhook_secret")
    return missing
