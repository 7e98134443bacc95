"""Fixtures for the email pattern tests: real aiosmtpd servers and apps built by the kernel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("rainmaker.testing.contracts.mailer")

from rainmaker.kernel.application import Application  # noqa: E402
from rainmaker.testing.harness import build_app  # noqa: E402
from rainmaker.testing.smtp_server import (  # noqa: E402
    Certificate,
    SmtpServer,
    self_signed_certificate,
    smtp_server,
)

SENDER = "Acme <no-reply@acme.example>"
REFUSED = "nobody@example.com"
BUSY = "busy@example.com"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 (skips when openssl is missing)."""
    try:
        return self_signed_certificate(tmp_path_factory.mktemp("tls"))
    except RuntimeError as error:
        pytest.skip(f"cannot make a test certificate: {error}")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no login) that refuses REFUSED and BUSY."""
    with smtp_server(refuse=[REFUSED], refuse_temporarily=[BUSY]) as server:
        yield server


@pytest.fixture
def smtp_auth() -> Iterator[SmtpServer]:
    """An SMTP server that requires the login app / s3cret-password."""
    with smtp_server(users={"app": "s3cret-password"}) as server:
        yield server


def smtp_settings(server: SmtpServer, **overrides: Any) -> dict[str, Any]:
    """email-smtp settings pointing at ``server``."""
    return {
        "use": "email-smtp",
        "default_sender": SENDER,
        "host": server.host,
        "port": server.port,
        "security": "none",
        "timeout": 5,
        **overrides,
    }


def mail_app(settings: Mapping[str, Any], root: Path) -> Application:
    """An app with one email instance called ``mail``."""
    return build_app({"mail": dict(settings)}, root=root)


@pytest.fixture
async def running() -> AsyncIterator[list[Application]]:
    """Apps appended here are stopped at the end of the test."""
    apps: list[Application] = []
    yield apps
    for app in apps:
        await app.stop()
