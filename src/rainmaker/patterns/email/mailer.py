"""What both mailers share: defaults, MIME building, templates and batch semantics.

A concrete mailer implements only :meth:`BaseMailer._transmit`, which delivers a batch of
ready :class:`~rainmaker.patterns.email.mime.Envelope` objects and returns a receipt or an
error for each; ``send``, ``send_many`` and ``send_template`` are built on it, so the
rules (validation, default sender, per-message results) cannot drift between backends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from rainmaker import PatternError
from rainmaker.capabilities.mailer import (
    Attachment,
    Email,
    Receipt,
    RenderedTemplate,
    SendResult,
)
from rainmaker.patterns.email.mime import Envelope, build_envelope
from rainmaker.patterns.email.templates import TemplateRenderer


class BaseMailer(ABC):
    """A :class:`~rainmaker.capabilities.mailer.MailSender` minus the transport."""

    def __init__(self, *, default_sender: str, templates: TemplateRenderer) -> None:
        self._default_sender = default_sender
        self.templates = templates

    @property
    def default_sender(self) -> str:
        """The ``From`` used when an email names no sender."""
        return self._default_sender

    @abstractmethod
    async def _transmit(self, envelopes: Sequence[Envelope]) -> list[Receipt | PatternError]:
        """Deliver each envelope; one result per envelope, in order, never raising for one."""

    async def send(self, email: Email) -> Receipt:
        """Send one message; raises the error that stopped it."""
        (result,) = await self._transmit([build_envelope(email, self._default_sender)])
        if isinstance(result, PatternError):
            raise result
        return result

    async def send_many(self, emails: Sequence[Email]) -> list[SendResult]:
        """Send each message; one failure does not stop (or lose) the others."""
        envelopes = [build_envelope(email, self._default_sender) for email in emails]
        outcomes = await self._transmit(envelopes) if envelopes else []
        return [
            SendResult(email, error=outcome)
            if isinstance(outcome, PatternError)
            else SendResult(email, receipt=outcome)
            for email, outcome in zip(emails, outcomes, strict=True)
        ]

    def render(
        self, name: str, context: Mapping[str, Any] | None = None, *, package: str | None = None
    ) -> RenderedTemplate:
        """Render template ``name`` (app folder first, then ``package``'s own)."""
        return self.templates.render(name, context, package=package)

    async def send_template(
        self,
        name: str,
        *,
        to: str | Sequence[str],
        context: Mapping[str, Any] | None = None,
        package: str | None = None,
        cc: str | Sequence[str] = (),
        bcc: str | Sequence[str] = (),
        sender: str | None = None,
        reply_to: str | Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Receipt:
        """Render template ``name`` with ``context`` and send it."""
        rendered = self.render(name, context, package=package)
        return await self.send(
            Email(
                to=to,
                cc=cc,
                bcc=bcc,
                sender=sender,
                reply_to=reply_to,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                headers=dict(headers or {}),
                attachments=attachments,
            )
        )
