"""``client_key(address)``: the one canonical key of a client address, for every limiter.

A per-address limit is only as strong as its key. The address a server reports is a
string, and what one client controls can be spelled many ways: ``2001:DB8::7``,
``2001:db8:0:0::7`` and ``2001:0db8::0007`` are one address, ``::ffff:198.51.100.7`` is
the IPv4 client ``198.51.100.7`` seen through a dual-stack socket, and a forwarded header
may carry a port (``198.51.100.7:5123``, ``"[2001:db8::7]:443"``). Worse, an IPv6 client
is handed a whole ``/64`` by any host or ISP and may pick a new address per request at no
cost. Keyed on the string, each of those buys fresh counters. :func:`client_key` maps
them all to one key::

    client_key("198.51.100.7")           -> "198.51.100.7"
    client_key("::ffff:198.51.100.7")    -> "198.51.100.7"
    client_key("2001:DB8::7")            -> "2001:db8::/64"
    client_key("[2001:db8::9]:443")      -> "2001:db8::/64"
    client_key("2001:db8::7", ipv6_prefix=128) -> "2001:db8::7/128"

IPv4 stays the single address (NAT already puts many users behind one); 6to4
(``2002::/16``) and Teredo (``2001::/32``) addresses count as the IPv4 address they embed,
since one IPv4 host owns every one of them. The IPv6 prefix
is a setting of each limiting pattern (``ipv6_prefix``, 64 by default: the smallest
network a site is assigned; 56 or 48 are stricter, 128 counts single addresses). A value
that is no IP address (``unknown``, a Unix socket path, a test client's name) is kept,
trimmed and lower-cased, so it is still one key. :func:`connection_client_key` reads the
address from an ASGI scope first.

What the *address* is stays the server's decision: behind a reverse proxy, the ASGI
server's forwarded-header settings (uvicorn ``--forwarded-allow-ips``) rewrite it, and
only for proxies it trusts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

DEFAULT_IPV6_PREFIX = 64
"""The IPv6 network one client is counted as: a ``/64`` is what any site is given."""

UNKNOWN_CLIENT = "unknown"
"""The key of a connection whose server reported no client address."""


def _strip_port(value: str) -> str:
    """``value`` without the quotes, brackets, port and zone a header or socket may add."""
    value = value.strip().strip('"').strip()
    if value.startswith("["):  # "[2001:db8::1]" or "[2001:db8::1]:443"
        end = value.find("]")
        if end > 0:
            value = value[1:end]
    elif value.count(":") == 1:  # "198.51.100.7:5123"; bare IPv6 has two or more colons
        value = value.split(":", 1)[0]
    return value.split("%", 1)[0]  # a zone ("fe80::1%eth0") names an interface, not a host


def client_key(address: str | None, *, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str:
    """The canonical limiter key of the client ``address``.

    IPv4 as is (in its canonical dotted form), an IPv4-mapped, 6to4 or Teredo IPv6 address
    as the IPv4 address it embeds, any other IPv6 address as its ``/ipv6_prefix`` network
    (``"2001:db8::/64"``); a port, brackets, quotes or a zone are ignored. Anything that
    is not an address is returned trimmed and lower-cased (``None`` or empty:
    ``"unknown"``).
    """
    if not 1 <= ipv6_prefix <= 128:
        raise ValueError(f"ipv6_prefix must be between 1 and 128, not {ipv6_prefix}")
    if not address or not address.strip():
        return UNKNOWN_CLIENT
    host = _strip_port(address)
    try:
        parsed = ipaddress.ip_address(host)
    except ValueError:
        return address.strip().lower()
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    # An IPv4 host owns a whole 6to4 /48 and a Teredo client picks ports and flags at
    # will: each counts as the IPv4 address it embeds, like an IPv4-mapped address.
    embedded = parsed.ipv4_mapped or parsed.sixtofour or (parsed.teredo or (None, None))[1]
    if embedded is not None:
        return str(embedded)
    return str(ipaddress.IPv6Network((parsed, ipv6_prefix), strict=False))


def connection_client_key(
    scope: Mapping[str, Any], *, ipv6_prefix: int = DEFAULT_IPV6_PREFIX
) -> str:
    """:func:`client_key` of the client address of an ASGI ``scope`` (its ``client``)."""
    client = scope.get("client")
    return client_key(str(client[0]) if client else None, ipv6_prefix=ipv6_prefix)
