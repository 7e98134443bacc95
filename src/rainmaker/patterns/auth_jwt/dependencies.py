"""Request-level helpers the auth routes depend on (the guards live in
:mod:`rainmaker.capabilities.auth`, shared with every other pattern)."""

from __future__ import annotations

from fastapi import Request

from rainmaker.http import client_key, owner_for
from rainmaker.patterns.auth_jwt.settings import AuthSettings

DEFAULT_IPV6_PREFIX = 64


def client_address(request: Request) -> str:
    """The client's canonical address (the key of per-address limits): one IPv4 address,
    or the IPv6 network of ``rate_limits.ipv6_prefix`` bits it belongs to, however it was
    spelled (:func:`rainmaker.http.client_key`).

    Behind a reverse proxy this is the proxy's address unless the server is told to trust
    forwarded headers (uvicorn ``--forwarded-allow-ips``), which then rewrites it.
    """
    client = request.client
    return client_key(client.host if client is not None else None, ipv6_prefix=_prefix(request))


def _prefix(request: Request) -> int:
    # The settings of the auth-jwt instance whose route this is (two instances, two
    # settings); the default when the request was not served by a composed app.
    try:
        settings = owner_for(request.scope).settings
    except RuntimeError:
        return DEFAULT_IPV6_PREFIX
    if isinstance(settings, AuthSettings):
        return settings.rate_limits.ipv6_prefix
    return DEFAULT_IPV6_PREFIX
