"""Security response headers: what every API response should tell browsers.

``nosniff`` stops MIME sniffing, ``frame-ancestors``/``X-Frame-Options`` stop clickjacking,
the referrer policy keeps URLs private, and HSTS (when enabled, for HTTPS-only profiles)
pins HTTPS. A header the route set itself is kept, so a route can relax one on purpose.
"""

from __future__ import annotations

from rainmaker.patterns.http.settings import SecurityHeadersSettings

Header = tuple[bytes, bytes]


def security_headers(settings: SecurityHeadersSettings, *, csp: bool = True) -> list[Header]:
    """The headers to add, as raw ASGI pairs (``csp=False`` leaves out the CSP)."""
    if not settings.enabled:
        return []
    headers: list[Header] = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", settings.referrer_policy.encode("latin-1")),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if csp and settings.content_security_policy:
        headers.append(
            (b"content-security-policy", settings.content_security_policy.encode("latin-1"))
        )
    if settings.hsts_max_age:
        headers.append(
            (
                b"strict-transport-security",
                f"max-age={settings.hsts_max_age}; includeSubDomains".encode(),
            )
        )
    return headers


class HeaderSet:
    """Headers to add to every response, with their names precomputed for the merge."""

    __slots__ = ("names", "pairs")

    def __init__(self, pairs: list[Header]) -> None:
        self.pairs = tuple(pairs)
        self.names = frozenset(name for name, _ in pairs)

    def merge_into(self, existing: list[Header], first: Header) -> None:
        """Append ``first`` and then each of these headers to ``existing``, skipping any
        whose name is already there (a route may set one itself on purpose)."""
        for name, _ in existing:
            lowered = name.lower()
            if lowered == first[0] or lowered in self.names:
                break
        else:  # the usual case: the route set none of them
            existing.append(first)
            existing.extend(self.pairs)
            return
        present = {name.lower() for name, _ in existing}
        existing.extend(h for h in (first, *self.pairs) if h[0] not in present)
