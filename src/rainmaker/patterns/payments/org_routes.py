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
from rainmaker.patterns.payments import owner_billing as billing
from rainmaker.patterns.payments.answers import CheckoutAnswer, InvoiceList, SubscriptionAnswer
from rainmaker.patterns.payments.errors import (
    NoSubscriptionError,
    PaymentStateError,
    ProviderError,
)
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
        body: billing.CheckoutBody, request: Request, org: Admin, user: CurrentUser
    ) -> Any:
        """Start a checkout billed to the organization (owners and admins), for as many
        seats as it has members; the seats follow the membership afterwards."""
        return await billing.start_checkout(resolve(), Owner.org(org.id), user.email, body, request)

    @router.get(
        "/subscription",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, ProviderError, 503),
    )
    async def org_subscription(org: Member) -> Any:
        """The organization's subscription (any member may read it)."""
        return await billing.read_subscription(
            resolve(), Owner.org(org.id), missing="this organization has no subscription"
        )

    @router.post(
        "/subscription/cancel",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, PaymentStateError, ProviderError, 503),
    )
    async def org_cancel(org: Admin, body: billing.CancelBody | None = None) -> Any:
        """Cancel the organization's subscription (owners and admins)."""
        return await billing.cancel_subscription(resolve(), Owner.org(org.id), body)

    @router.post(
        "/subscription/resume",
        response_model=SubscriptionAnswer,
        responses=responses(NoSubscriptionError, PaymentStateError, ProviderError, 503),
    )
    async def org_resume(org: Admin) -> Any:
        """Undo the organization's cancellation while the period lasts (owners and admins)."""
        return await billing.resume_subscription(resolve(), Owner.org(org.id))

    @router.get("/invoices", response_model=InvoiceList, responses=responses(ProviderError, 503))
    async def org_invoices(org: Admin) -> Any:
        """The organization's invoices, newest first (owners and admins)."""
        return await billing.list_invoices(resolve(), Owner.org(org.id))

    return router
