"""What the billing routes do for an owner, the user or an organization alike.

The user's own routes (:mod:`.routes`) and an organization's (:mod:`.org_routes`) differ
only in who the owner is and who may call them; the request bodies and the handler bodies
are these, parametrised by the owner.

No ``from __future__ import annotations`` here: FastAPI reads the bodies' annotations at
runtime.
"""

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from rainmaker.capabilities.payments import OwnerRef
from rainmaker.patterns.payments.errors import NoSubscriptionError
from rainmaker.patterns.payments.pricing import ItemBody, price_items
from rainmaker.patterns.payments.service import PaymentsService


class CheckoutBody(BaseModel):
    """``POST /checkout``: a plan (subscription) or items (one-time payment)."""

    model_config = ConfigDict(extra="forbid")

    plan: str | None = None
    items: list[ItemBody] | None = None
    success_url: str = Field(max_length=2048)
    cancel_url: str = Field(max_length=2048)


class CancelBody(BaseModel):
    """``POST /subscription/cancel``."""

    model_config = ConfigDict(extra="forbid")

    at_period_end: StrictBool = True  # strict: 0 or "yes" is a client mistake, not True


async def start_checkout(
    service: PaymentsService, owner: OwnerRef, email: str, body: CheckoutBody, request: Request
) -> dict[str, Any]:
    """Create the owner's customer (billed at ``email``) if need be, then a checkout."""
    items = (
        price_items(body.items, service.settings, pattern_id=service.pattern_id)
        if body.items is not None
        else None
    )
    await service.create_customer(owner, email)
    created = await service.create_checkout(
        owner,
        items=items,
        plan=body.plan,
        success_url=body.success_url,
        cancel_url=body.cancel_url,
        # Used only when neither return_origins nor public_url is set: the Host header
        # is then the app's own idea of where it is served (trusted_hosts bounds it).
        request_origin=f"{request.url.scheme}://{request.url.netloc}",
    )
    return created.as_dict()


async def read_subscription(
    service: PaymentsService, owner: OwnerRef, *, missing: str
) -> dict[str, Any]:
    """The owner's subscription; :class:`NoSubscriptionError` saying ``missing`` if none."""
    found = await service.get_subscription(owner)
    if found is None:
        raise NoSubscriptionError(missing)
    return found.as_dict()


async def cancel_subscription(
    service: PaymentsService, owner: OwnerRef, body: CancelBody | None
) -> dict[str, Any]:
    """Cancel the owner's subscription, at the period end unless the body says otherwise."""
    at_period_end = body.at_period_end if body is not None else True
    return (await service.cancel_subscription(owner, at_period_end)).as_dict()


async def resume_subscription(service: PaymentsService, owner: OwnerRef) -> dict[str, Any]:
    """Undo the owner's cancellation scheduled for the period end."""
    return (await service.resume_subscription(owner)).as_dict()


async def list_invoices(service: PaymentsService, owner: OwnerRef) -> dict[str, Any]:
    """The owner's invoices, as the ``InvoiceList`` answer."""
    return {"invoices": [invoice.as_dict() for invoice in await service.list_invoices(owner)]}
