"""Stripe's webhook signature scheme, for both payment patterns.

A ``Stripe-Signature`` header reads ``t=<unix time>,v1=<hex>[,v1=<hex>…]`` where each
``v1`` is HMAC-SHA256 of ``"<t>.<raw body>"`` under the endpoint secret (several appear
while a secret is being rolled). We verify it ourselves rather than through the SDK so that
``payment-local`` needs no ``stripe`` install; the tests check that the SDK's own verifier
accepts what :func:`sign` produces, so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from rainmaker.patterns.payments.errors import WebhookSignatureError

SCHEME = "v1"


def compute(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` signed at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value for ``payload`` (now, unless ``timestamp``)."""
    at = int(time.time()) if timestamp is None else timestamp
    return f"t={at},{SCHEME}={compute(payload, secret, at)}"


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: float,
    now: float | None = None,
    pattern_id: str | None = None,
) -> int:
    """The signed timestamp when ``header`` signs ``payload`` within ``tolerance`` seconds
    of now, before or after.

    Raises :class:`WebhookSignatureError` saying which check failed; the message never
    contains the expected signature.
    """

    def refuse(message: str) -> WebhookSignatureError:
        return WebhookSignatureError(
            message,
            pattern_id=pattern_id,
            hint="send the raw body as Stripe signed it, with the endpoint's signing secret",
        )

    if not header:
        raise refuse("the Stripe-Signature header is missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise refuse("the Stripe-Signature timestamp is not a number") from None
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise refuse("the Stripe-Signature header has no timestamp (t=...)")
    if not signatures:
        raise refuse(f"the Stripe-Signature header has no {SCHEME} signature")
    expected = compute(payload, secret, timestamp)
    # compare_digest on every candidate: the time taken says nothing about the secret.
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise refuse("no signature in the Stripe-Signature header matches the payload")
    age = (time.time() if now is None else now) - timestamp
    if age > tolerance:
        raise refuse(
            f"the webhook was signed {int(age)}s ago, more than the {int(tolerance)}s allowed "
            "(a replay or a clock problem)"
        )
    # The tolerance bounds clock skew both ways: a signature dated far ahead would stay
    # "fresh" for as long as it is ahead, so a captured delivery could be replayed until then.
    if -age > tolerance:
        raise refuse(
            f"the webhook was signed {int(-age)}s in the future, more than the "
            f"{int(tolerance)}s of clock skew allowed (a forged timestamp or a clock problem)"
        )
    return timestamp
