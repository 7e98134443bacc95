"""Settings defaults that matter: ports by security mode, normalised sender."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rainmaker.patterns.email.settings import ConsoleSettings, SmtpSettings


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_default_port_follows_security(security: str, port: int) -> None:
    settings = SmtpSettings.model_validate(
        {"default_sender": "a@acme.example", "host": "mail.acme.example", "security": security}
    )
    assert settings.effective_port == port
    assert settings.endpoint == f"mail.acme.example:{port}"


def test_password_is_secret_and_sender_normalised() -> None:
    settings = SmtpSettings.model_validate(
        {
            "default_sender": '"Acme"  <a@acme.example>',
            "host": "h.example",
            "username": "u",
            "password": "hunter2-hunter2",
        }
    )
    assert "hunter2" not in repr(settings)
    assert settings.default_sender == "Acme <a@acme.example>"


def test_unknown_security_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="starttls"):
        SmtpSettings.model_validate(
            {"default_sender": "a@acme.example", "host": "h.example", "security": "ssl"}
        )


def test_console_defaults() -> None:
    settings = ConsoleSettings.model_validate({"default_sender": "a@acme.example"})
    assert settings.outbox == "outbox" and settings.templates_dir is None


def test_empty_username_and_password_mean_no_login() -> None:
    from rainmaker.patterns.email.settings import SmtpSettings

    settings = SmtpSettings.model_validate(
        {"host": "127.0.0.1", "default_sender": "a@example.com", "username": "", "password": ""}
    )
    assert settings.username is None and settings.password is None


def test_console_mailer_builds_without_importing_aiosmtplib() -> None:
    import subprocess
    import sys

    script = "import sys, rainmaker.patterns.email.module\nprint('aiosmtplib' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
