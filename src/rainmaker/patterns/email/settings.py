"""Settings of the email patterns.

Validated before anything starts (``rainmaker check`` reports a bad sender address or a
login without a password), and importing this module imports neither Jinja2 nor aiosmtplib.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from rainmaker import InvalidInputError, Settings
from rainmaker.capabilities.mailer import parse_address

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class MailerSettings(Settings):
    """What both email patterns share: the sender and the app's template folder."""

    default_sender: str = Field(
        description="The From address of messages that name no sender, e.g. "
        "'Acme <no-reply@acme.example>'.",
        examples=["Acme <no-reply@acme.example>"],
    )
    templates_dir: str | None = Field(
        None,
        description="Folder of the app's email templates, relative to the app folder; "
        "searched before every pattern's own templates, so a file here with the same name "
        "(e.g. 'notice.html') overrides it.",
    )

    @field_validator("default_sender")
    @classmethod
    def _valid_sender(cls, value: str) -> str:
        try:
            return str(parse_address(value, "default_sender"))
        except InvalidInputError as error:
            raise ValueError(error.message) from None


class ConsoleSettings(MailerSettings):
    """``email-console``: log each message and keep it as a ``.eml`` file; no server."""

    outbox: str = Field(
        "outbox",
        min_length=1,
        description="Folder (relative to the app folder) where each message is written as "
        "a .eml file; created at start.",
    )


class SmtpSettings(MailerSettings):
    """``email-smtp``: deliver through an SMTP server with aiosmtplib."""

    host: str = Field(description="SMTP server host name or IP address.", min_length=1)
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="SMTP server port; defaults to 587 for starttls, 465 for tls, 25 for none.",
    )
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="'starttls' upgrades a plain connection (port 587), 'tls' is TLS from the "
        "first byte (port 465), 'none' sends in clear (only for a relay on the same host).",
    )
    username: str | None = Field(
        None, description="Login name; leave unset for a server that needs no login."
    )
    password: SecretStr | None = Field(None, description="Login password (use ${VAR}).")
    timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds any one step (connect, TLS, login, each SMTP command) may take "
        "before the send fails with 503 instead of hanging.",
    )
    validate_certs: bool = Field(
        True, description="Check the server's TLS certificate and host name (keep on)."
    )
    ca_file: str | None = Field(
        None,
        description="PEM file of extra trusted CA certificates (a private CA), relative to "
        "the app folder.",
    )
    local_hostname: str | None = Field(
        None, description="Name sent in EHLO; defaults to this machine's fully qualified name."
    )
    verify_on_start: bool = Field(
        True,
        description="At start, connect, log in and disconnect (within 'timeout'); a server "
        "that cannot be reached fails the start naming host:port instead of failing the "
        "first send.",
    )

    @model_validator(mode="after")
    def _login_pair(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both to log in, or neither")
        return self

    @property
    def effective_port(self) -> int:
        """The configured port, or the usual one for the chosen security."""
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    @property
    def endpoint(self) -> str:
        """``host:port`` as error messages and health show it."""
        return f"{self.host}:{self.effective_port}"
