"""Request-level helpers the auth routes depend on (the guards live in
:mod:`rainmaker.capabilities.auth`, shared with every other pattern)."""

from __future__ import annotations

from fastapi import Request

UNKNOWN_CLIENT = "unknown"


def client_address(request: Request) -> str:
    """The client's IP address as the ASGI server reports it (the key of per-address limits).

    Behind a reverse proxy this is the proxy's address unless the server is told to trust
    forwarded headers (uvicorn ``--forwarded-allow-ips``), which then rewrites it.
    """
    client = request.client
    return client.host if client is not None and client.host else UNKNOWN_CLIENT
