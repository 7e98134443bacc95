"""From an :class:`~rainmaker.capabilities.mailer.Email` to the bytes that travel.

Both mailers send exactly these bytes, so what the console outbox shows is what an SMTP
server would receive: ``multipart/alternative`` for text plus HTML, ``multipart/mixed``
around it for attachments, UTF-8 everywhere, CRLF line ends, and no ``Bcc`` header (Bcc
recipients are in the envelope only).
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from rainmaker.capabilities.mailer import Email, parse_address

# SMTP policy: CRLF line ends and 78-column folding; utf8=False keeps headers 7-bit
# (RFC 2047 encoded words) so any server accepts them without SMTPUTF8.
WIRE_POLICY = email.policy.SMTP
BODY_ENCODING = "quoted-printable"


@dataclass(frozen=True)
class Envelope:
    """One message ready to send: envelope sender and recipients, Message-ID, bytes."""

    email: Email
    sender: str
    recipients: tuple[str, ...]
    message_id: str
    data: bytes


def build_envelope(message: Email, default_sender: str) -> Envelope:
    """The wire form of ``message``, sent from its sender or ``default_sender``."""
    from_header = message.sender or default_sender
    sender = parse_address(from_header, "sender address")
    message_id = make_msgid(domain=sender.domain)
    mime = EmailMessage(policy=WIRE_POLICY)
    mime["From"] = from_header
    if message.to:
        mime["To"] = ", ".join(message.to)
    if message.cc:
        mime["Cc"] = ", ".join(message.cc)
    if message.reply_to:
        mime["Reply-To"] = ", ".join(message.reply_to)
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = message_id
    for name, value in message.headers.items():
        mime[name] = value
    # Quoted-printable keeps every line 7-bit, so no server needs 8BITMIME.
    if message.text:
        mime.set_content(message.text, subtype="plain", charset="utf-8", cte=BODY_ENCODING)
        if message.html:
            mime.add_alternative(message.html, subtype="html", charset="utf-8", cte=BODY_ENCODING)
    else:
        assert message.html is not None  # Email guarantees one body
        mime.set_content(message.html, subtype="html", charset="utf-8", cte=BODY_ENCODING)
    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return Envelope(
        email=message,
        sender=sender.addr_spec,
        recipients=message.recipients,
        message_id=message_id,
        data=mime.as_bytes(policy=WIRE_POLICY),
    )
