"""HMAC-signed URLs for ``storage-local``: who holds the URL may GET or PUT one key until
it expires.

The signature covers the method, the key, the expiry and (for uploads) the bound content
type, with HMAC-SHA256 under the instance's secret; it is compared in constant time. The
URL carries ``expires`` (Unix seconds) and ``signature`` (URL-safe base64) query
parameters, and ``content_type`` when an upload's type is bound.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from rainmaker import ForbiddenError, UnauthorizedError
from rainmaker.capabilities.storage import SignedMethod


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class UrlSigner:
    """Signs and verifies URLs for one storage instance."""

    secret: bytes
    pattern_id: str | None = None

    def signature(
        self, method: str, key: str, expires: int, content_type: str | None = None
    ) -> str:
        """The signature for these parameters (the newline-joined fields, HMAC-SHA256)."""
        message = "\n".join((method.upper(), key, str(expires), content_type or "")).encode()
        return _b64(hmac.new(self.secret, message, hashlib.sha256).digest())

    def sign(
        self,
        base: str,
        key: str,
        *,
        method: SignedMethod,
        expires_in: float,
        content_type: str | None = None,
        now: float | None = None,
    ) -> str:
        """``<base>/<quoted key>?expires=…&signature=…`` valid for ``expires_in`` seconds."""
        expires = int((time.time() if now is None else now) + expires_in)
        params: dict[str, str] = {"expires": str(expires)}
        if content_type:
            params["content_type"] = content_type
        params["signature"] = self.signature(method, key, expires, content_type)
        return f"{base}/{quote(key, safe='/')}?{urlencode(params)}"

    def verify(
        self,
        method: str,
        key: str,
        *,
        expires: str | None,
        signature: str | None,
        content_type: str | None = None,
        now: float | None = None,
    ) -> None:
        """Raise :class:`UnauthorizedError` for a missing or malformed signature and
        :class:`ForbiddenError` for a wrong or expired one; return quietly when valid."""
        if not expires or not signature:
            raise UnauthorizedError(
                "this URL is not signed: 'expires' and 'signature' query parameters are required",
                pattern_id=self.pattern_id,
                hint="ask the app for a signed URL",
            )
        try:
            expires_at = int(expires)
        except ValueError:
            raise UnauthorizedError(
                f"the signed URL's 'expires' parameter {expires[:32]!r} is not a Unix time",
                pattern_id=self.pattern_id,
                hint="use the URL exactly as the app issued it",
            ) from None
        expected = self.signature(method, key, expires_at, content_type)
        # Compare before looking at the expiry so the timing says nothing about the secret.
        valid = hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
        if not valid:
            raise ForbiddenError(
                "the URL's signature does not match (the URL was altered, or signed for "
                "another key, method or secret)",
                pattern_id=self.pattern_id,
                hint="use the URL exactly as the app issued it",
            )
        current = time.time() if now is None else now
        if current > expires_at:
            raise ForbiddenError(
                f"the signed URL expired {int(current - expires_at)} seconds ago",
                pattern_id=self.pattern_id,
                hint="ask the app for a new signed URL",
            )
