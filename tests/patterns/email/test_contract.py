"""Both email patterns pass the same Mailer contract suite, built through the kernel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from rainmaker.capabilities.mailer import Mailer
from rainmaker.patterns.email.outbox import OutboxMessage, read_outbox
from rainmaker.testing.contracts.mailer import CONTRACT_SENDER, MailerContract, MailerUnderTest
from rainmaker.testing.smtp_server import Certificate, ReceivedMessage, smtp_server
from tests.patterns.email.conftest import mail_app


class TestConsoleMailerContract(MailerContract):
    @pytest.fixture
    async def mailer_under_test(
        self, tmp_path: Path, mailer_templates_dir: Path
    ) -> AsyncIterator[MailerUnderTest]:
        app = mail_app(
            {
                "use": "email-console",
                "default_sender": CONTRACT_SENDER,
                "outbox": "var/outbox",
                "templates_dir": str(mailer_templates_dir),
            },
            tmp_path,
        )

        async def delivered() -> Sequence[OutboxMessage]:
            return read_outbox(tmp_path / "var" / "outbox")

        async with app.running():
            yield MailerUnderTest(app.services.require(Mailer), delivered)


@pytest.mark.smtp
class TestSmtpMailerContract(MailerContract):
    """Plain, with login over STARTTLS, and over implicit TLS (private CA via ca_file)."""

    @pytest.fixture(params=["plain", "starttls+login", "tls"])
    async def mailer_under_test(
        self,
        request: pytest.FixtureRequest,
        tmp_path: Path,
        mailer_templates_dir: Path,
    ) -> AsyncIterator[MailerUnderTest]:
        refused = "nobody@example.com"
        settings: dict[str, object] = {
            "use": "email-smtp",
            "default_sender": CONTRACT_SENDER,
            "templates_dir": str(mailer_templates_dir),
            "timeout": 5,
            "security": "none",
        }
        server_options: dict[str, object] = {"refuse": [refused]}
        if request.param != "plain":
            certificate: Certificate = request.getfixturevalue("certificate")
            settings["ca_file"] = str(certificate.cert_file)
            server_options["certificate"] = certificate
            if request.param == "tls":
                settings["security"] = server_options["tls"] = "tls"
            else:
                settings["security"] = server_options["tls"] = "starttls"
                settings.update(username="app", password="s3cret-password")
                server_options["users"] = {"app": "s3cret-password"}
        with smtp_server(**server_options) as server:  # type: ignore[arg-type]
            settings.update(host=server.host, port=server.port)
            app = mail_app(settings, tmp_path)

            async def delivered() -> Sequence[ReceivedMessage]:
                return server.messages

            async with app.running():
                yield MailerUnderTest(app.services.require(Mailer), delivered, refused)
            if request.param == "starttls+login":
                assert {m.login for m in server.messages} in ({"app"}, set())
