"""Prices of what an HTTP client puts in a one-time checkout.

A client names products (``{"product": "mug", "quantity": 2}``) and the server prices them
from the composition's ``products``. A client-set name and amount is accepted only where
``client_prices`` is on (donations, tips: amounts that are the user's to choose); anywhere
else it would let a user buy "Pro plan (1 year)" at one cent. Python callers of
``create_checkout`` build :class:`LineItem` themselves and are trusted with any amount.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from rainmaker import InvalidInputError
from rainmaker.capabilities.payments import LineItem
from rainmaker.patterns.payments.errors import ClientPriceRefusedError, UnknownProductError
from rainmaker.patterns.payments.settings import PaymentsSettings


class ItemBody(BaseModel):
    """One line item of a one-time checkout: a product, or (with ``client_prices``) a
    name, an amount and a currency."""

    model_config = ConfigDict(extra="forbid")

    product: str | None = Field(
        default=None, max_length=64, description="Key of one of the app's products."
    )
    name: str | None = Field(default=None, min_length=1, max_length=250)
    amount: int | None = Field(
        default=None,
        description="Unit price in minor units (cents); only where client_prices is on.",
    )
    currency: str | None = None
    quantity: int = 1


def price_items(
    items: Sequence[ItemBody], settings: PaymentsSettings, *, pattern_id: str | None
) -> list[LineItem]:
    """The line items ``items`` ask for, priced by the server (see the module docstring)."""
    priced: list[LineItem] = []
    for position, item in enumerate(items):
        client_set = [
            key for key in ("name", "amount", "currency") if getattr(item, key) is not None
        ]
        if item.product is not None:
            if client_set:
                raise ClientPriceRefusedError(
                    f"item {position} names product {item.product!r} and also sets "
                    f"{', '.join(client_set)}: a product's name and price come from the server",
                    pattern_id=pattern_id,
                    hint='send only {"product": ..., "quantity": ...}',
                )
            product = settings.products.get(item.product)
            if product is None:
                known = ", ".join(sorted(settings.products)) or "none configured"
                raise UnknownProductError(
                    f"item {position}: no product {item.product!r} (products: {known})",
                    pattern_id=pattern_id,
                )
            priced.append(LineItem(product.name, product.amount, settings.currency, item.quantity))
            continue
        if not settings.client_prices:
            raise ClientPriceRefusedError(
                f"item {position} sets its own price; this app prices items from its products",
                pattern_id=pattern_id,
                hint='name a product, e.g. {"product": "mug", "quantity": 1}; the app lists '
                "them in the payments products setting (client_prices = true lets clients "
                "choose amounts, for donations)",
            )
        if item.name is None or item.amount is None or item.currency is None:
            raise InvalidInputError(
                f"item {position} needs a product, or a name, amount and currency",
                pattern_id=pattern_id,
                hint='e.g. {"name": "Donation", "amount": 500, "currency": "usd"}',
            )
        priced.append(LineItem(item.name, item.amount, item.currency, item.quantity))
    return priced
