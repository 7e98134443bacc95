"""Who may read the dashboard: loopback clients only, unless the settings say otherwise.

A loopback peer is not enough: a web page on another site can resolve its own name to
127.0.0.1 (DNS rebinding) and have the victim's browser read the dashboard from this
machine. The browser then sends that site's name as ``Host``, so the ``Host`` must be a
loopback name or address too.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a client address) is this machine: 127.0.0.0/8, ::1 or mapped."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback_host(header: str | None) -> bool:
    """Whether a ``Host`` header names this machine: ``localhost`` (or a subdomain of it,
    which browsers resolve to loopback only), or a loopback address; any port."""
    if not header:
        return False
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8000
        name, bracket, _ = header[1:].partition("]")
        return bool(bracket) and is_loopback(name)
    name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    name = name.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    return is_loopback(name)


def is_local_request(client: str | None, host_header: str | None) -> bool:
    """A loopback peer that asked for a loopback ``Host`` (see the module docstring)."""
    return is_loopback(client) and is_loopback_host(host_header)
