"""The SMTP mailer: aiosmtplib against a real server, failures turned into clear errors.

One connection per ``send`` (and one per ``send_many`` batch, reconnecting once if the
server drops it mid-batch); every step is bounded by the ``timeout`` setting, so a dead or
silent server yields :class:`~rainmaker.UnavailableError` naming ``host:port``, never a
hang. Nothing is retried here: delivery may have happened when a connection drops, so a
retry belongs to the caller (a job, see :func:`~rainmaker.capabilities.mailer.is_retryable`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib

from rainmaker import PatternError, UnavailableError
from rainmaker.capabilities.mailer import (
    MessageRejectedError,
    Receipt,
    RecipientsRefusedError,
)
from rainmaker.patterns.email.errors import SmtpLoginError
from rainmaker.patterns.email.mailer import BaseMailer
from rainmaker.patterns.email.mime import Envelope
from rainmaker.patterns.email.settings import SmtpSettings
from rainmaker.patterns.email.templates import TemplateRenderer

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger


class SmtpMailer(BaseMailer):
    """Sends through the SMTP server described by :class:`SmtpSettings`."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        templates: TemplateRenderer,
        log: FilteringBoundLogger,
        instance: str,
        root: Path,
    ) -> None:
        super().__init__(default_sender=settings.default_sender, templates=templates)
        self.settings = settings
        self.endpoint = settings.endpoint
        self._log = log
        self._instance = instance
        self._ca_file = str(root / settings.ca_file) if settings.ca_file else None

    # -- connections -----------------------------------------------------------------------

    def _client(self, *, login: bool) -> aiosmtplib.SMTP:
        settings = self.settings
        password = settings.password.get_secret_value() if settings.password else None
        return aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.effective_port,
            username=settings.username if login else None,
            password=password if login else None,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
            timeout=settings.timeout,
            validate_certs=settings.validate_certs,
            cert_bundle=self._ca_file,
            local_hostname=settings.local_hostname,
        )

    async def open(self, *, login: bool = True) -> aiosmtplib.SMTP:
        """A connected client (TLS as configured, logged in when ``login``).

        Raises :class:`UnavailableError` naming ``host:port`` or :class:`SmtpLoginError`.
        """
        client = self._client(login=login)
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as error:
            client.close()
            raise self._connection_error(error) from error
        return client

    async def close(self, client: aiosmtplib.SMTP) -> None:
        """Say QUIT politely; drop the connection if the server does not answer."""
        try:
            if client.is_connected:
                await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            client.close()

    async def verify(self) -> None:
        """Connect and log in once, then disconnect: proves the settings work."""
        await self.close(await self.open())

    async def ping(self) -> float:
        """Connect, NOOP and disconnect; returns the round trip in milliseconds."""
        began = time.perf_counter()
        client = await self.open(login=False)
        try:
            await client.noop()
        except (aiosmtplib.SMTPException, OSError) as error:
            raise self._connection_error(error) from error
        finally:
            await self.close(client)
        return (time.perf_counter() - began) * 1000

    # -- sending ---------------------------------------------------------------------------

    async def _transmit(self, envelopes: Sequence[Envelope]) -> list[Receipt | PatternError]:
        results: list[Receipt | PatternError] = []
        client: aiosmtplib.SMTP | None = None
        try:
            for envelope in envelopes:
                if client is None:
                    try:
                        client = await self.open()
                    except PatternError as error:
                        # The server is unusable: every message left fails with this error.
                        results.extend([error] * (len(envelopes) - len(results)))
                        break
                try:
                    refused, _ = await client.sendmail(
                        envelope.sender, envelope.recipients, envelope.data
                    )
                except (aiosmtplib.SMTPException, OSError) as error:
                    failure = self._send_error(envelope, error)
                    results.append(failure)
                    if isinstance(failure, UnavailableError):
                        # The connection is gone; the next message reconnects once.
                        client.close()
                        client = None
                    continue
                results.append(self._receipt(envelope, refused))
        finally:
            if client is not None:
                await self.close(client)
        return results

    def _receipt(self, envelope: Envelope, refused: dict[str, aiosmtplib.SMTPResponse]) -> Receipt:
        reasons = {addr: f"{reply.code} {reply.message}" for addr, reply in refused.items()}
        accepted = tuple(addr for addr in envelope.recipients if addr not in reasons)
        if reasons:
            self._log.warning(
                "email.recipients_refused",
                message_id=envelope.message_id,
                refused=reasons,
                accepted=len(accepted),
            )
        self._log.info(
            "email.sent",
            message_id=envelope.message_id,
            recipients=len(accepted),
            server=self.endpoint,
        )
        return Receipt(message_id=envelope.message_id, accepted=accepted, refused=reasons)

    # -- errors ----------------------------------------------------------------------------

    def _connection_error(self, error: BaseException) -> PatternError:
        """What went wrong before any message could be sent."""
        if isinstance(error, aiosmtplib.SMTPAuthenticationError):
            return SmtpLoginError(
                f"SMTP server {self.endpoint} refused the login of {self.settings.username!r}: "
                f"{error.code} {error.message}",
                pattern_id=self._instance,
                hint="check the username and password settings",
                cause=error,
            )
        # aiosmtplib reports a missing STARTTLS or AUTH extension as a bare SMTPException
        # whose text says "not supported"; both mean the settings do not fit the server.
        if isinstance(error, aiosmtplib.SMTPNotSupported) or (
            type(error) is aiosmtplib.SMTPException and "not supported" in str(error)
        ):
            return UnavailableError(
                f"cannot use SMTP server {self.endpoint}: {error} "
                f"(security={self.settings.security!r})",
                pattern_id=self._instance,
                hint="match 'security' (starttls, tls, none) and the login settings to what "
                "the server offers",
                cause=error,
            )
        return UnavailableError(
            f"cannot reach SMTP server {self.endpoint}: {_reason(error)}",
            pattern_id=self._instance,
            hint="check host, port and security, and that the server is running",
            cause=error,
        )

    def _send_error(self, envelope: Envelope, error: BaseException) -> PatternError:
        """What went wrong while sending one message on an open connection."""
        if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
            refused = {item.recipient: f"{item.code} {item.message}" for item in error.recipients}
            return RecipientsRefusedError(
                refused,
                temporary=all(400 <= item.code < 500 for item in error.recipients),
                pattern_id=self._instance,
                cause=error,
            )
        if isinstance(error, aiosmtplib.SMTPSenderRefused):
            return MessageRejectedError(
                f"SMTP server {self.endpoint} refused the sender {error.sender}: "
                f"{error.code} {error.message}",
                smtp_code=error.code,
                pattern_id=self._instance,
                hint="use a sender address the server allows (default_sender)",
                cause=error,
            )
        if isinstance(error, aiosmtplib.SMTPResponseException):
            return MessageRejectedError(
                f"SMTP server {self.endpoint} rejected message {envelope.message_id}: "
                f"{error.code} {error.message}",
                smtp_code=error.code,
                pattern_id=self._instance,
                cause=error,
            )
        return self._connection_error(error)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"no answer in time ({error or 'timed out'})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
