"""The JSON bodies of the payment routes, as models: what their OpenAPI declares.

Each mirrors the ``as_dict()`` of its :mod:`rainmaker.capabilities.payments` type, so a
generated client parses what the handlers answer (they return those dicts, validated
against these models by FastAPI).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from rainmaker.http import UtcTimestamp


class OwnerAnswer(BaseModel):
    """Who is billed: a user or an organization."""

    kind: Literal["user", "org"]
    id: str


class CheckoutAnswer(BaseModel):
    """A started checkout: send the user to ``url`` (absolute)."""

    id: str
    url: str = Field(description="The hosted checkout page (an absolute URL).")
    mode: str = Field(description="'subscription' for a plan, 'payment' for items.")
    amount: int = Field(description="In minor units (cents).")
    currency: str
    plan: str | None
    seats: int


class SubscriptionAnswer(BaseModel):
    """A subscription as last reported by the provider."""

    id: str
    user_id: str
    plan: str | None
    status: str
    active: bool
    current_period_end: UtcTimestamp | None
    cancel_at_period_end: bool
    seats: int
    owner: OwnerAnswer


class InvoiceAnswer(BaseModel):
    """One subscription invoice."""

    id: str
    subscription_id: str | None
    amount_due: int
    amount_paid: int
    currency: str
    status: str
    created_at: UtcTimestamp


class InvoiceList(BaseModel):
    """``GET /invoices``."""

    invoices: list[InvoiceAnswer]


class WebhookAnswer(BaseModel):
    """What a delivered webhook event came to."""

    received: Literal[True]
    result: Literal["processed", "duplicate", "ignored"]
