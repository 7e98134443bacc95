"""Declarations of ``payment-local`` and ``payment-stripe`` (light: importing this never
imports stripe, SQLAlchemy or FastAPI).

Both require ``Database`` (they own ``payments_*`` tables) and take ``Auth`` as optional:
routes need it to know the current user, and signup customers need its hook, but a worker
or an admin tool can use the service API with user ids alone. Without Auth the routes answer
503 saying so. ``Organizations`` is optional too: with it, an organization can be an owner,
billed one seat per member, the seats following its membership changes.
"""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.organizations import Organizations
from rainmaker.capabilities.payments import Payments
from rainmaker.patterns.payments.settings import LocalPaymentsSettings, StripeSettings

MOUNT = "/payments"
MIGRATIONS = "rainmaker.patterns.payments.migrations"
TABLE_PREFIX = "payments_"

payment_local: Pattern[LocalPaymentsSettings] = Pattern(
    id="payment-local",
    version="1.0.0",
    name="Local payments",
    description="A payment ledger in the app's database with a simulated hosted checkout "
    "page: the full checkout and subscription flow with no Stripe account.",
    settings=LocalPaymentsSettings,
    factory="rainmaker.patterns.payments.module:LocalPaymentsModule",
    provides=[Payments],
    requires=[Database, Auth.optional(), Organizations.optional()],
    mount=MOUNT,
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
    examples=[
        {},
        {
            "currency": "eur",
            "plans": {"pro": {"amount": 1500, "currency": "eur", "interval": "month"}},
            "public_url": "http://localhost:8000",
        },
    ],
)

payment_stripe: Pattern[StripeSettings] = Pattern(
    id="payment-stripe",
    version="1.0.0",
    name="Stripe payments",
    description="Stripe through the official SDK: customers, Checkout, subscriptions, "
    "refunds, signed webhooks processed once, with a local mirror in payments_* tables.",
    settings=StripeSettings,
    factory="rainmaker.patterns.payments.module:StripePaymentsModule",
    provides=[Payments],
    requires=[Database, Auth.optional(), Organizations.optional()],
    mount=MOUNT,
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
    examples=[
        {
            "api_key": "${STRIPE_API_KEY:-sk_test_change_me}",
            "webhook_secret": "${STRIPE_WEBHOOK_SECRET:-whsec_change_me}",
        },
        {
            "api_key": "${STRIPE_API_KEY:-sk_test_change_me}",
            "webhook_secret": "${STRIPE_WEBHOOK_SECRET:-whsec_change_me}",
            "plans": {"pro": {"amount": 1500, "provider_id": "plan_pro_monthly"}},
            "create_customer_on_signup": True,
            "max_network_retries": 3,
        },
    ],
)
