"""Real servers in tests: skip locally when one is missing, fail under ``CI=true``.

Fixtures call :func:`require_server` before they use PostgreSQL, Redis… on loopback, so a
developer without the server gets a skip that says what is missing, while CI (where every
server must run) gets a failure instead of silently skipping the tests.
"""

from __future__ import annotations

import os
import socket

import pytest


def in_ci() -> bool:
    """Whether we run under CI (``CI=true``), where missing servers are failures."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def server_reachable(host: str, port: int, timeout: float = 1.0) -> str | None:
    """``None`` when a TCP connection to ``host:port`` succeeds, else the reason."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        return error.strerror or str(error) or type(error).__name__


def require_server(name: str, host: str, port: int, *, timeout: float = 1.0) -> None:
    """Skip the test (fail it under ``CI=true``) unless ``name`` listens on ``host:port``."""
    reason = server_reachable(host, port, timeout)
    if reason is None:
        return
    message = f"{name} is not reachable on {host}:{port} ({reason})"
    if in_ci():
        pytest.fail(f"{message}; CI must run every server the tests need", pytrace=False)
    pytest.skip(f"{message}; start it to run these tests")
