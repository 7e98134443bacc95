"""Pattern interaction: a signup creates the customer in the signup's transaction, and a
failure after the provider-side create leaves nothing behind on either side.

Runs on SQLite and, once, on PostgreSQL (the transactional guarantee is the database's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from rainmaker.capabilities.auth import Auth, User
from rainmaker.kernel.errors import ConflictError
from rainmaker.patterns.auth_jwt.tables import users as auth_users
from rainmaker.patterns.payments import tables
from rainmaker.testing.stripe_server import StripeServer
from tests.patterns.auth_jwt.conftest import PASSWORD, pg_database  # noqa: F401 (fixture)
from tests.patterns.database.conftest import pg_url
from tests.patterns.payments.conftest import (
    MakeApp,
    Started,
    payments_settings,
    random_email,
    stripe_client,
)


class LaterStepFailed(ConflictError):
    """Raised by a hook registered after payments' own, to fail the signup after it."""

    code = "test_later_step_failed"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "pay.db"}
    name = request.getfixturevalue("pg_database")
    return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}


async def count(app: Started, table: Any, **where: str) -> int:
    db = app.service.db
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with db.session() as session:
        return int((await session.execute(query)).scalar_one())


def failing_hook(app: Started, seen: list[str]) -> Callable[[User], Awaitable[None]]:
    """A hook that sees the customer already created, then fails the signup."""

    async def hook(user: User) -> None:
        customer = await app.service.get_customer(user.id)
        assert customer is not None  # same transaction: payments' row is visible here
        seen.append(customer.provider_id)
        raise LaterStepFailed("a later signup step failed")

    return hook


async def test_signup_commits_user_and_customer_together(
    make_app: MakeApp, localstripe: StripeServer, database: dict[str, Any]
) -> None:
    app = await make_app(payments=payments_settings("stripe", localstripe), database=database)
    email = random_email()
    answer = await app.client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    user_id = answer.json()["id"]
    customer = await app.service.get_customer(user_id)
    assert customer is not None and customer.email == email
    found = await stripe_client(localstripe).v1.customers.retrieve_async(customer.provider_id)
    assert found.email == email and found.to_dict()["metadata"]["user_id"] == user_id


async def test_failure_after_provider_create_leaves_nothing_behind(
    make_app: MakeApp, localstripe: StripeServer, database: dict[str, Any]
) -> None:
    app = await make_app(payments=payments_settings("stripe", localstripe), database=database)
    auth = app.app.instances["auth"].module.service  # type: ignore[union-attr]
    assert app.app.instances["auth"].pattern.provides[0] == Auth
    seen: list[str] = []
    auth.on_user_created(failing_hook(app, seen))
    email = random_email()

    answer = await app.client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "test_later_step_failed"

    (provider_id,) = seen  # the provider-side customer did exist during the signup
    assert await count(app, auth_users, email=email) == 0
    assert await count(app, tables.customers, provider_id=provider_id) == 0
    client = stripe_client(localstripe)
    import stripe

    with pytest.raises(stripe.InvalidRequestError) as gone:
        await client.v1.customers.retrieve_async(provider_id)
    assert gone.value.http_status == 404
    listed = await client.v1.customers.list_async({"email": email})
    assert [c.id for c in listed.data] == []


async def test_concurrent_creates_leave_one_customer_on_each_side(
    make_app: MakeApp, localstripe: StripeServer
) -> None:
    # Both calls create a Stripe customer; the ledger's primary key lets one record it,
    # and the other's saga deletes its Stripe customer and returns the winner.
    app = await make_app(payments=payments_settings("stripe", localstripe), auth=False)
    email = random_email()
    first, second = await asyncio.gather(
        app.service.create_customer("racing-user", email),
        app.service.create_customer("racing-user", email),
    )
    assert first.provider_id == second.provider_id
    listed = await stripe_client(localstripe).v1.customers.list_async({"email": email})
    assert [c.id for c in listed.data] == [first.provider_id]


async def test_signup_without_customer_creation_when_turned_off(
    make_app: MakeApp, localstripe: StripeServer
) -> None:
    app = await make_app(payments=payments_settings("local", None, create_customer_on_signup=False))
    answer = await app.client.post(
        "/auth/register", json={"email": random_email(), "password": PASSWORD}
    )
    assert answer.status_code == 201
    assert await app.service.get_customer(answer.json()["id"]) is None
