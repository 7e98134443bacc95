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


def merge_headers(existing: list[Header], added: list[Header]) -> None:
    """Append each of ``added`` to ``existing`` unless a header of that name is there."""
    if not existing:
        existing.extend(added)
        return
    present = {name.lower() for name, _ in existing}
    if present.isdisjoint([name for name, _ in added]):  # the usual case: none set by the route
        existing.extend(added)
    else:
        existing.extend(header for header in added if header[0] not in present)
