"""email-smtp against real aiosmtpd servers: login, failures at start and while running."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rainmaker import StartupError, UnavailableError
from rainmaker.capabilities.mailer import (
    Email,
    Mailer,
    MessageRejectedError,
    RecipientsRefusedError,
    is_retryable,
)
from rainmaker.kernel.application import Application
from rainmaker.kernel.health import Status
from rainmaker.patterns.email.errors import SmtpLoginError
from rainmaker.testing.smtp_server import (
    Certificate,
    SmtpServer,
    free_port,
    silent_server,
    smtp_server,
)
from tests.patterns.email.conftest import BUSY, mail_app, smtp_settings

pytestmark = pytest.mark.smtp

HANG_GUARD = 20.0  # a bug would otherwise hang the suite; the timeouts under test are far lower


def hello() -> Email:
    return Email(to="ann@example.com", subject="hello", text="hi")


async def test_login_with_good_credentials_delivers(
    smtp_auth: SmtpServer, tmp_path: Path, running: list[Application]
) -> None:
    app = mail_app(smtp_settings(smtp_auth, username="app", password="s3cret-password"), tmp_path)
    running.append(app)
    await app.start()
    await app.services.require(Mailer).send(hello())
    (received,) = smtp_auth.messages
    assert received.login == "app"
    assert received.recipients == ("ann@example.com",)


async def test_bad_credentials_fail_the_start_naming_server_and_user(
    smtp_auth: SmtpServer, tmp_path: Path
) -> None:
    app = mail_app(smtp_settings(smtp_auth, username="app", password="wrong-password"), tmp_path)
    with pytest.raises(StartupError) as caught:
        await app.start()
    message = str(caught.value)
    assert f"127.0.0.1:{smtp_auth.port}" in message
    assert "refused the login of 'app'" in message
    assert "wrong-password" not in message
    assert isinstance(caught.value.cause, SmtpLoginError)
    assert app.state == "failed"


async def test_bad_credentials_while_running_are_a_login_error(
    smtp_auth: SmtpServer, tmp_path: Path, running: list[Application]
) -> None:
    app = mail_app(
        smtp_settings(smtp_auth, username="app", password="wrong-password", verify_on_start=False),
        tmp_path,
    )
    running.append(app)
    await app.start()
    mailer = app.services.require(Mailer)
    with pytest.raises(SmtpLoginError, match="refused the login of 'app'") as caught:
        await mailer.send(hello())
    assert not is_retryable(caught.value)
    assert smtp_auth.messages == []


async def test_server_requiring_login_refuses_anonymous_mail(
    smtp_auth: SmtpServer, tmp_path: Path, running: list[Application]
) -> None:
    app = mail_app(smtp_settings(smtp_auth), tmp_path)
    running.append(app)
    await app.start()
    with pytest.raises(MessageRejectedError, match="530") as caught:
        await app.services.require(Mailer).send(hello())
    assert f"127.0.0.1:{smtp_auth.port}" in str(caught.value)
    assert smtp_auth.messages == []


async def test_unreachable_server_fails_the_start_naming_the_endpoint(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    app = mail_app(
        {
            "use": "email-smtp",
            "default_sender": "a@acme.example",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "timeout": 2,
        },
        tmp_path,
    )
    with pytest.raises(StartupError) as caught:
        await asyncio.wait_for(app.start(), HANG_GUARD)
    assert f"cannot reach SMTP server 127.0.0.1:{port}" in str(caught.value)
    assert "mail (email-smtp) failed to start" in str(caught.value)
    assert isinstance(caught.value.cause, UnavailableError)


async def test_silent_server_fails_the_start_within_the_timeout(tmp_path: Path) -> None:
    with silent_server() as (host, port):
        app = mail_app(
            {
                "use": "email-smtp",
                "default_sender": "a@acme.example",
                "host": host,
                "port": port,
                "security": "none",
                "timeout": 0.3,
            },
            tmp_path,
        )
        with pytest.raises(StartupError) as caught:
            await asyncio.wait_for(app.start(), HANG_GUARD)
    assert f"cannot reach SMTP server {host}:{port}" in str(caught.value)
    assert "timed out" in str(caught.value).lower() or "no answer" in str(caught.value)


async def test_unreachable_start_allowed_when_not_verifying(tmp_path: Path) -> None:
    port = free_port()
    app = mail_app(
        {
            "use": "email-smtp",
            "default_sender": "a@acme.example",
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "timeout": 2,
            "verify_on_start": False,
        },
        tmp_path,
    )
    async with app.running():
        mailer = app.services.require(Mailer)
        with pytest.raises(UnavailableError, match=f"127.0.0.1:{port}") as caught:
            await asyncio.wait_for(mailer.send(hello()), HANG_GUARD)
        assert is_retryable(caught.value)
        assert caught.value.status == 503
        report = await app.health()
        assert report.instances[0].status is Status.DOWN
        assert f"127.0.0.1:{port}" in report.instances[0].details["reason"]


async def test_server_gone_while_running(smtp: SmtpServer, tmp_path: Path) -> None:
    app = mail_app(smtp_settings(smtp), tmp_path)
    async with app.running():
        mailer = app.services.require(Mailer)
        healthy = (await app.health()).instances[0]
        assert healthy.status is Status.UP
        assert healthy.details["server"] == f"127.0.0.1:{smtp.port}"
        assert healthy.details["latency_ms"] >= 0

        smtp.stop()
        with pytest.raises(
            UnavailableError, match=f"cannot reach SMTP server 127.0.0.1:{smtp.port}"
        ):
            await asyncio.wait_for(mailer.send(hello()), HANG_GUARD)
        results = await asyncio.wait_for(mailer.send_many([hello(), hello()]), HANG_GUARD)
        assert [type(r.error) for r in results] == [UnavailableError, UnavailableError]
        down = (await app.health()).instances[0]
        assert down.status is Status.DOWN
        assert f"127.0.0.1:{smtp.port}" in down.details["reason"]
        assert not (await app.health()).ready


async def test_silent_server_while_running_times_out(tmp_path: Path) -> None:
    with silent_server() as (host, port):
        app = mail_app(
            {
                "use": "email-smtp",
                "default_sender": "a@acme.example",
                "host": host,
                "port": port,
                "security": "none",
                "timeout": 0.3,
                "verify_on_start": False,
            },
            tmp_path,
        )
        async with app.running():
            with pytest.raises(UnavailableError, match=f"{host}:{port}"):
                await asyncio.wait_for(app.services.require(Mailer).send(hello()), HANG_GUARD)


async def test_temporary_refusal_is_retryable(
    smtp: SmtpServer, tmp_path: Path, running: list[Application]
) -> None:
    app = mail_app(smtp_settings(smtp), tmp_path)
    running.append(app)
    await app.start()
    with pytest.raises(RecipientsRefusedError, match=BUSY) as caught:
        await app.services.require(Mailer).send(Email(to=BUSY, subject="s", text="t"))
    assert caught.value.temporary
    assert is_retryable(caught.value)
    assert "450" in caught.value.refused[BUSY]


async def test_starttls_against_a_server_without_it_is_a_clear_error(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    app = mail_app(smtp_settings(smtp, security="starttls"), tmp_path)
    with pytest.raises(StartupError) as caught:
        await app.start()
    message = str(caught.value)
    assert f"127.0.0.1:{smtp.port}" in message
    assert "STARTTLS" in message
    assert "security='starttls'" in message


async def test_untrusted_certificate_is_refused(certificate: Certificate, tmp_path: Path) -> None:
    with smtp_server(tls="tls", certificate=certificate) as server:
        app = mail_app(smtp_settings(server, security="tls"), tmp_path)  # no ca_file
        with pytest.raises(StartupError) as caught:
            await app.start()
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert "certificate" in str(caught.value).lower()


async def test_ca_file_is_relative_to_the_app_folder(
    certificate: Certificate, tmp_path: Path
) -> None:
    (tmp_path / "ca.pem").write_bytes(certificate.cert_file.read_bytes())
    with smtp_server(tls="starttls", certificate=certificate) as server:
        app = mail_app(smtp_settings(server, security="starttls", ca_file="ca.pem"), tmp_path)
        async with app.running():
            await app.services.require(Mailer).send(hello())
        assert len(server.messages) == 1
