"""Billing per organization on both providers and both databases: an organization's
customer, subscription and invoices are its own, its seats are its member count at the
provider (followed after each membership change), and the one-subscription rule and the
webhook bookkeeping hold per owner."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from rainmaker import ConflictError, InvalidInputError, UnavailableError
from rainmaker.capabilities.auth import Auth, Authenticator, User
from rainmaker.capabilities.organizations import MEMBER_ADDED, OrganizationDirectory, Organizations
from rainmaker.capabilities.payments import (
    SUBSCRIPTION_ACTIVATED,
    SUBSCRIPTION_UPDATED,
    Owner,
    PaymentEvent,
    owner_of,
)
from rainmaker.testing.stripe_server import StripeServer
from tests.patterns.payments.conftest import (
    PLAN,
    PLAN_AMOUNT,
    LocalBackend,
    MakeApp,
    StripeBackend,
    payments_settings,
    random_email,
    stripe_client,
)

ORGS = {
    "mail": {"use": "email-console", "default_sender": "no-reply@example.com"},
    "orgs": {"use": "organizations"},
}
RETURN = {"success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"}


@dataclass
class OrgBilling:
    """A started app with payments and organizations, and the backend that pays."""

    backend: LocalBackend | StripeBackend
    auth: Authenticator
    orgs: OrganizationDirectory
    events: list[PaymentEvent]

    async def user(self) -> User:
        return await self.auth.create_user(random_email(), "correct horse battery staple")

    async def provider_seats(self, subscription_id: str) -> int:
        """The quantity the provider bills (localstripe's own record for Stripe)."""
        if isinstance(self.backend, StripeBackend):
            found = await self.backend.stripe.v1.subscriptions.retrieve_async(subscription_id)
            return int(found.to_dict()["items"]["data"][0]["quantity"])
        subscription = await self.backend.service.ledger.subscription(subscription_id)
        assert subscription is not None
        return subscription.seats


@pytest.fixture(params=["local", "stripe"])
async def billing(
    request: pytest.FixtureRequest, make_app: MakeApp, database: dict[str, Any]
) -> OrgBilling:
    settings = {"return_origins": ["https://app.example"]}
    if request.param == "local":
        started = await make_app(
            payments=payments_settings("local", None, **settings), database=database, extra=ORGS
        )
        backend: LocalBackend | StripeBackend = LocalBackend(
            started.client, started.service, started.service
        )
    else:
        server: StripeServer = request.getfixturevalue("localstripe")
        started = await make_app(
            payments=payments_settings("stripe", server, **settings),
            database=database,
            extra=ORGS,
        )
        backend = StripeBackend(
            started.client, started.service, started.service, server, stripe_client(server)
        )
    events: list[PaymentEvent] = []

    async def record(event: PaymentEvent) -> None:
        events.append(event)

    for name in (SUBSCRIPTION_ACTIVATED, SUBSCRIPTION_UPDATED):
        backend.payments.subscribe(name, record)
    return OrgBilling(
        backend,
        started.app.services.require(Auth),
        started.app.services.require(Organizations),
        events,
    )


async def subscribe_org(billing: OrgBilling, owner: Owner) -> str:
    payments = billing.backend.payments
    await payments.create_customer(owner, "billing@example.com")
    checkout = await payments.create_checkout(owner, plan=PLAN, **RETURN)
    await billing.backend.complete_checkout(checkout.id)
    subscription = await payments.get_subscription(owner)
    assert subscription is not None and subscription.active
    return subscription.id


async def test_an_organization_pays_one_seat_per_member_and_seats_follow_members(
    billing: OrgBilling,
) -> None:
    ada, bob, cy = await billing.user(), await billing.user(), await billing.user()
    org = await billing.orgs.create(ada.id, slug=f"acme-{secrets.token_hex(3)}", name="Acme")
    await billing.orgs.add_member(org.id, bob.id)
    owner = Owner.org(org.id)
    payments = billing.backend.payments

    customer = await payments.create_customer(owner, "billing@acme.example")
    assert customer.owner == owner and customer.user_id == f"org:{org.id}"
    checkout = await payments.create_checkout(owner, plan=PLAN, **RETURN)
    assert (checkout.seats, checkout.amount) == (2, 2 * PLAN_AMOUNT)
    await billing.backend.complete_checkout(checkout.id)

    subscription = await payments.get_subscription(owner)
    assert subscription is not None and subscription.active and subscription.seats == 2
    assert subscription.owner == owner
    assert await billing.provider_seats(subscription.id) == 2
    (activated,) = [e for e in billing.events if e.name == SUBSCRIPTION_ACTIVATED]
    assert activated.owner == owner and activated.data["seats"] == 2
    (invoice,) = await payments.list_invoices(owner)
    assert invoice.owner == owner and invoice.amount_due == 2 * PLAN_AMOUNT

    # Membership changes reach the provider after their commit, with no call of ours.
    await billing.orgs.add_member(org.id, cy.id)
    now = await payments.get_subscription(owner)
    assert now is not None and now.seats == 3
    assert await billing.provider_seats(subscription.id) == 3
    await billing.orgs.remove_member(org.id, bob.id)
    await billing.orgs.remove_member(org.id, cy.id)
    now = await payments.get_subscription(owner)
    assert now is not None and now.seats == 1 and now.active
    assert await billing.provider_seats(subscription.id) == 1
    updates = [e.data["seats"] for e in billing.events if e.name == SUBSCRIPTION_UPDATED]
    assert updates == [3, 2, 1]
    assert all(e.owner == owner for e in billing.events)

    # Nothing changed: the provider is not asked again.
    assert await payments.sync_seats(org.id) == now


async def test_one_subscription_per_owner_users_and_orgs_apart(billing: OrgBilling) -> None:
    ada = await billing.user()
    org = await billing.orgs.create(ada.id, slug=f"solo-{secrets.token_hex(3)}", name="Solo")
    owner = Owner.org(org.id)
    await subscribe_org(billing, owner)
    payments = billing.backend.payments

    # The organization holds its one slot: a second plan checkout is refused...
    with pytest.raises(ConflictError) as refused:
        await payments.create_checkout(owner, plan=PLAN, **RETURN)
    assert refused.value.code == "payments_state_conflict"
    assert "organization" in refused.value.message
    # ...while its owner, a user, still has a slot (and no customer) of their own.
    assert await payments.get_subscription(ada.id) is None
    assert await payments.list_invoices(ada.id) == []
    assert len(await payments.list_invoices(owner)) == 1
    await payments.create_customer(ada.id, ada.email)
    personal = await payments.create_checkout(ada.id, plan=PLAN, **RETURN)
    assert personal.seats == 1 and personal.amount == PLAN_AMOUNT
    await billing.backend.complete_checkout(personal.id)
    mine = await payments.get_subscription(ada.id)
    assert mine is not None and mine.active and mine.owner == Owner.user(ada.id)

    # Cancelling the organization's subscription leaves the user's alone; seats of an
    # organization with no live subscription are not reported anywhere.
    canceled = await payments.cancel_subscription(owner, at_period_end=False)
    assert canceled.status == "canceled"
    assert await payments.sync_seats(org.id) is None
    still = await payments.get_subscription(ada.id)
    assert still is not None and still.active


async def test_webhook_replays_count_once_per_owner(billing: OrgBilling) -> None:
    if not isinstance(billing.backend, StripeBackend):
        pytest.skip("replays are posted to payment-stripe's webhook")
    ada = await billing.user()
    org = await billing.orgs.create(ada.id, slug=f"rep-{secrets.token_hex(3)}", name="Replay")
    owner = Owner.org(org.id)
    subscription_id = await subscribe_org(billing, owner)
    found = await billing.backend.stripe.v1.subscriptions.retrieve_async(subscription_id)
    before = await billing.backend.processed_events()
    body = found.to_dict()
    await billing.backend.post_event("customer.subscription.updated", body)
    await billing.backend.post_event("customer.subscription.updated", body)
    assert await billing.backend.processed_events() == before + 2  # two event ids
    now = await billing.backend.payments.get_subscription(owner)
    assert now is not None and now.active and now.seats == 1
    assert [e.name for e in billing.events].count(SUBSCRIPTION_ACTIVATED) == 1


def test_owners_read_back_from_their_keys() -> None:
    assert owner_of("u1") == Owner.user("u1") and Owner.user("u1").key == "u1"
    assert owner_of("org:o1") == Owner.org("o1") == Owner.parse("org:o1")
    assert Owner.org("o1").key == "org:o1" and Owner.org("o1").is_org
    for bad in ("", "a:b"):
        with pytest.raises(InvalidInputError):
            Owner.org(bad)
    with pytest.raises(InvalidInputError):
        owner_of(42)  # type: ignore[arg-type]


async def test_org_events_name_the_member_and_payments_ignores_orgs_without_billing(
    billing: OrgBilling,
) -> None:
    # An organization created (its owner added) has no subscription: nothing is billed.
    seen: list[str] = []

    async def note(event: Any) -> None:
        seen.append(event.org_id)

    unsubscribe = billing.orgs.subscribe(MEMBER_ADDED, note)
    try:
        ada = await billing.user()
        org = await billing.orgs.create(ada.id, slug=f"free-{secrets.token_hex(3)}", name="F")
    finally:
        unsubscribe()
    assert seen == [org.id]
    assert await billing.backend.payments.get_subscription(Owner.org(org.id)) is None
    assert await billing.backend.payments.sync_seats(org.id) is None


def problem(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code, answer.json()


async def test_org_billing_over_http_by_role(billing: OrgBilling) -> None:
    client = billing.backend.client
    ada, bob, cy = await billing.user(), await billing.user(), await billing.user()
    tokens = {}
    for user in (ada, bob, cy):
        pair = await billing.auth.issue_tokens(user)
        tokens[user.id] = {"Authorization": f"Bearer {pair.access_token}"}
    org = await billing.orgs.create(ada.id, slug=f"web-{secrets.token_hex(3)}", name="Web")
    await billing.orgs.add_member(org.id, bob.id)
    base = f"/payments/orgs/{org.id}"
    body = {"plan": PLAN, **RETURN}

    problem(
        await client.post(f"{base}/checkout", json=body, headers=tokens[bob.id]),
        403,
        "org_role_required",
    )
    problem(
        await client.post(f"{base}/checkout", json=body, headers=tokens[cy.id]),
        404,
        "org_not_found",
    )
    problem(
        await client.post(
            f"{base}/checkout", json={**body, "plan": "gold"}, headers=tokens[ada.id]
        ),
        422,
        "payments_unknown_plan",
    )
    problem(
        await client.get(f"{base}/subscription", headers=tokens[bob.id]),
        404,
        "payments_no_subscription",
    )
    started = await client.post(f"{base}/checkout", json=body, headers=tokens[ada.id])
    assert started.status_code == 201, started.text
    assert started.json()["seats"] == 2 and started.json()["amount"] == 2 * PLAN_AMOUNT
    await billing.backend.complete_checkout(started.json()["id"])

    seen = await client.get(f"{base}/subscription", headers=tokens[bob.id])
    assert seen.status_code == 200, seen.text
    assert seen.json()["active"] and seen.json()["seats"] == 2
    assert seen.json()["owner"] == {"kind": "org", "id": org.id}
    problem(await client.get(f"{base}/subscription", headers=tokens[cy.id]), 404, "org_not_found")
    problem(await client.get(f"{base}/invoices", headers=tokens[bob.id]), 403, "org_role_required")
    invoices = (await client.get(f"{base}/invoices", headers=tokens[ada.id])).json()["invoices"]
    assert [i["amount_due"] for i in invoices] == [2 * PLAN_AMOUNT]
    # The owner's own billing is apart from the organization's.
    problem(
        await client.get("/payments/subscription", headers=tokens[ada.id]),
        404,
        "payments_no_subscription",
    )
    problem(
        await client.post(f"{base}/checkout", json=body, headers=tokens[ada.id]),
        409,
        "payments_state_conflict",
    )

    cancel = await client.post(f"{base}/subscription/cancel", headers=tokens[ada.id])
    assert cancel.status_code == 200 and cancel.json()["cancel_at_period_end"] is True
    problem(
        await client.post(f"{base}/subscription/resume", headers=tokens[bob.id]),
        403,
        "org_role_required",
    )
    resumed = await client.post(f"{base}/subscription/resume", headers=tokens[ada.id])
    assert resumed.status_code == 200 and resumed.json()["cancel_at_period_end"] is False


async def test_without_organizations_org_billing_is_unavailable(make_app: MakeApp) -> None:
    started = await make_app(
        payments=payments_settings("local", None, return_origins=["https://app.example"])
    )
    auth = started.app.services.require(Auth)
    user = await auth.create_user(random_email(), "correct horse battery staple")
    token = (await auth.issue_tokens(user)).access_token
    answer = await started.client.get(
        "/payments/orgs/acme/subscription", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    await started.service.create_customer(Owner.org("o1"), "billing@example.com")
    with pytest.raises(UnavailableError, match="Organizations pattern"):
        await started.service.create_checkout(Owner.org("o1"), plan=PLAN, **RETURN)
