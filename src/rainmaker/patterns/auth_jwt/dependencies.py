"""Request-level helpers the auth routes depend on (the guards live in
:mod:`rainmaker.capabilities.auth`, shared with every other pattern)."""

from __future__ import annotations

from fastapi import Request

from rainmaker.http import client_key


def client_address(request: Request) -> str:
    """The client's canonical address (the key of per-address limits): one IPv4 address,
    or the IPv6 /64 it belongs to, however it was spelled (:func:`rainmaker.http.client_key`).

    Behind a reverse proxy this is the proxy's address unless the server is told to trust
    forwarded headers (uvicorn ``--forwarded-allow-ips``), which then rewrites it.
    """
    client = request.client
    return client_key(client.host if client is not None else None)
