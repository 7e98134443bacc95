"""A real SMTP server for tests: aiosmtpd on a free loopback port, collecting what it receives.

::

    with smtp_server() as server:                       # plain, no login
        ...  # point email-smtp at server.host / server.port with security = "none"
        assert server.messages[0].recipients == ("a@example.com",)

    with smtp_server(users={"app": "s3cret"}) as server:   # AUTH required (no TLS needed)
    with smtp_server(tls="starttls", certificate=cert):    # or tls="tls" (implicit TLS)

The server runs in its own thread (aiosmtpd's ``Controller``), binds 127.0.0.1 only and
parses each message it accepts into a :class:`ReceivedMessage` with its envelope.
Addresses listed in ``refuse`` are refused at ``RCPT TO`` with ``550`` (or ``450`` for
``refuse_temporarily``), so tests can exercise refusals. :func:`self_signed_certificate`
makes a certificate for the TLS variants with the ``openssl`` command; :func:`silent_server`
accepts connections and never answers, to prove that clients time out instead of hanging.
"""

from __future__ import annotations

import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted: envelope sender, envelope recipients, parsed body."""

    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage
    data: bytes
    login: str | None


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for ``127.0.0.1``/``localhost``: PEM files on disk."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the server side."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def self_signed_certificate(folder: Path) -> Certificate:
    """Write a one-day self-signed certificate for 127.0.0.1 into ``folder``.

    Uses the ``openssl`` command (no Python crypto dependency); raises ``RuntimeError``
    when it is not installed, so the caller can skip with that reason.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "1",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)


class _Collector:
    """The aiosmtpd handler: refuses listed recipients, keeps every accepted message."""

    def __init__(self, refuse: Iterable[str], refuse_temporarily: Iterable[str]) -> None:
        self.refuse = {address.lower() for address in refuse}
        self.refuse_temporarily = {address.lower() for address in refuse_temporarily}
        self.messages: list[ReceivedMessage] = []
        self.require_login = False
        self._lock = threading.Lock()
        self._parser = BytesParser(policy=email.policy.default)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.require_login and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: no such mailbox"
        if address.lower() in self.refuse_temporarily:
            return f"450 4.2.1 <{address}>: mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = bytes(envelope.original_content or envelope.content)
        message = self._parser.parsebytes(data)
        assert isinstance(message, EmailMessage)
        login = session.auth_data  # what the authenticator returned: the login name
        received = ReceivedMessage(
            sender=str(envelope.mail_from),
            recipients=tuple(envelope.rcpt_tos),
            message=message,
            data=data,
            login=login.decode() if isinstance(login, bytes) else login,
        )
        with self._lock:
            self.messages.append(received)
        return "250 2.0.0 OK: queued"


class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1 and what it has received."""

    def __init__(self, controller: Controller, collector: _Collector, port: int) -> None:
        self._controller = controller
        self._collector = collector
        self.host = HOST
        self.port = port
        self.running = True

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every accepted message so far, in arrival order (a copy)."""
        with self._collector._lock:
            return list(self._collector.messages)

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._collector._lock:
            self._collector.messages.clear()

    def stop(self) -> None:
        """Stop listening (idempotent); the port then refuses connections."""
        if self.running:
            self.running = False
            self._controller.stop()


@contextmanager
def smtp_server(
    *,
    users: Mapping[str, str] | None = None,
    tls: Literal["none", "starttls", "tls"] = "none",
    certificate: Certificate | None = None,
    refuse: Iterable[str] = (),
    refuse_temporarily: Iterable[str] = (),
) -> Iterator[SmtpServer]:
    """Run an SMTP server on a free 127.0.0.1 port for the ``with`` block.

    ``users`` (login -> password) makes AUTH (PLAIN, LOGIN) required and checked; it is
    allowed without TLS so tests need no certificate. ``tls="starttls"`` offers STARTTLS and
    ``tls="tls"`` speaks TLS from the first byte; both need ``certificate``.
    """
    collector = _Collector(refuse, refuse_temporarily)
    kwargs: dict[str, Any] = {}
    if users is not None:
        accounts = dict(users)

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            if (
                isinstance(auth_data, LoginPassword)
                and accounts.get(auth_data.login.decode()) == auth_data.password.decode()
            ):
                return AuthResult(success=True, auth_data=auth_data.login)
            return AuthResult(success=False, handled=False)

        # The handler refuses MAIL before AUTH (what auth_required does, minus aiosmtpd's
        # per-connection warning that AUTH without TLS is unsafe: true, and wanted here).
        collector.require_login = True
        kwargs.update(authenticator=authenticate, auth_require_tls=False)
    if tls != "none":
        if certificate is None:
            raise ValueError(f"tls={tls!r} needs a certificate (see self_signed_certificate)")
        if tls == "starttls":
            kwargs.update(tls_context=certificate.server_context())
        else:
            kwargs.update(ssl_context=certificate.server_context())
    port = free_port()
    controller = Controller(collector, hostname=HOST, port=port, **kwargs)
    controller.start()
    server = SmtpServer(controller, collector, port)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def silent_server() -> Iterator[tuple[str, int]]:
    """A loopback port that accepts TCP connections and never says a word.

    An SMTP client waits for the greeting there, so it proves that connect timeouts work.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(16)
    try:
        yield HOST, listener.getsockname()[1]
    finally:
        listener.close()
