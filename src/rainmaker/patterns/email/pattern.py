"""The two email pattern declarations (light: no Jinja2 or aiosmtplib import)."""

from __future__ import annotations

from rainmaker import Pattern
from rainmaker.capabilities.mailer import Mailer
from rainmaker.patterns.email.settings import ConsoleSettings, SmtpSettings

email_console: Pattern[ConsoleSettings] = Pattern(
    id="email-console",
    version="1.0.0",
    name="Console email",
    description="Logs one line per message and writes it as a .eml file into an outbox "
    "folder; no server needed (development and tests).",
    settings=ConsoleSettings,
    factory="rainmaker.patterns.email.module:ConsoleMailerModule",
    provides=[Mailer],
    examples=[
        {"default_sender": "no-reply@acme.example"},
        {
            "default_sender": "Acme <no-reply@acme.example>",
            "outbox": "var/outbox",
            "templates_dir": "templates/email",
        },
    ],
)

email_smtp: Pattern[SmtpSettings] = Pattern(
    id="email-smtp",
    version="1.0.0",
    name="SMTP email",
    description="Delivers through an SMTP server (STARTTLS, implicit TLS or none; login; "
    "timeouts) with aiosmtplib.",
    settings=SmtpSettings,
    factory="rainmaker.patterns.email.module:SmtpMailerModule",
    provides=[Mailer],
    examples=[
        {
            "default_sender": "no-reply@acme.example",
            "host": "127.0.0.1",
            "port": 1025,
            "security": "none",
        },
        {
            "default_sender": "Acme <no-reply@acme.example>",
            "host": "smtp.example.com",
            "security": "starttls",
            "username": "acme",
            "password": "${SMTP_PASSWORD}",
            "templates_dir": "templates/email",
        },
    ],
)
