"""HTTP routes of an organization's billing, under ``/payments/orgs/{org}``.

The same operations as the user's own routes, for the organization as the owner
(:meth:`~rainmaker.capabilities.payments.Owner.org`): its subscription is billed one seat
per member, the seats following membership changes. Who may do what is read from
``Organizations`` on every request (``rainmaker.http``'s ``require_org_role``):

- any member (an organization's API key included) reads the subscription
  (``GET /payments/orgs/{org}/subscription``);
- owners and admins start a checkout (``POST …/checkout``; the first one creates the
  organization's customer with the caller's email as its billing address), cancel and
  resume (``POST …/subscription/cancel``, ``…/resume``) and read invoices
  (``GET …/invoices``).

A non-member gets 404 ``org_not_found`` (ids don't leak), a member without the role 403
``org_role_required``. They need an ``Organizations`` pattern composed (503 otherwise).

No ``from __future__ import annotations`` here: FastAPI reads these annotations at runtime.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Request

from rainmaker.capabilities.organizations import ADMIN, MEMBER, ActiveOrganization
from rainmaker.capabilities.payments import Owner
from rainmaker.http import CurrentUser, require_org_role, responses
from rainmaker.patterns.payments.answers import CheckoutAnswer, InvoiceList, SubscriptionAnswer
from rainmaker.patterns.payments.errors import (
    NoSubscriptionError,
    PaymentStateError,
    ProviderError,
)
from rainmaker.patterns.payments.pricing import price_items
from rainmaker.patterns.payments.routes import CancelBody, CheckoutBody
from rainmaker.patterns.payments.service import PaymentsService

Member = Annotated[ActiveOrganization, require_org_role(MEMBER)]
Admin = Annotated[ActiveOrganization, require_org_role(ADMIN)]


def org_billing_router(resolve: Callable[[], PaymentsService]) -> APIRouter:
    """The routes; ``resolve`` returns the running service (503 while stopped)."""
    router = APIRouter(prefix="/orgs/{org}", tags=["payments"])

    @router.post(
        "/checkout",
        status_code=201,
        response_model=CheckoutAnswer,
        responses=responses(PaymentStateError, ProviderError, 503),
    )
    async def org_checkout(
        body: CheckoutBody, request: Request, org: Admin, user: CurrentUser
    ) -> Any:
        service = resolve()
        items = (
            price_items(body.items, service.settings, pattern_id=service.pattern_id)
            if body.items is not None
            else None
        )
        owner = Owner.org(org.id)
        await service.create_customer(owner, user.email)
        created = await service.create_checkout(
            owner,
            items=items,
            plan=body.plan,
            success_url=body.success_url,
            cancel_url=body.cancel_url,
            request_origin=f"{request.url.scheme}://{request.url.netloc}",
        )
        return created.as_dict()

    @router.get(
        "/subscription",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, ProviderError, 503),
    )
    async def org_subscription(org: Member) -> Any:
        found = await resolve().get_subscription(Owner.org(org.id))
        if found is None:
            raise NoSubscriptionError("this organization has no subscription")
        return found.as_dict()

    @router.post(
        "/subscription/cancel",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, PaymentStateError, ProviderError, 503),
    )
    async def org_cancel(org: Admin, body: CancelBody | None = None) -> Any:
        at_period_end = body.at_period_end if body is not None else True
        return (await resolve().cancel_subscription(Owner.org(org.id), at_period_end)).as_dict()

    @router.post(
        "/subscription/resume",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, PaymentStateError, ProviderError, 503),
    )
    async def org_resume(org: Admin) -> Any:
        return (await resolve().resume_subscription(Owner.org(org.id))).as_dict()

    @router.get("/invoices", response_model=InvoiceList, responses=responses(ProviderError, 503))
    async def org_invoices(org: Admin) -> Any:
        found = await resolve().list_invoices(Owner.org(org.id))
        return {"invoices": [invoice.as_dict() for invoice in found]}

    return router
